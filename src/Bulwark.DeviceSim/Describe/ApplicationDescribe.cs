using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Bulwark.DeviceSim.Describe;

/// <summary>Cloud variable types as the application Describe numbers them.</summary>
public enum CloudVariableType
{
    Bool = 1,
    Int = 2,
    String = 4,
    Double = 9,
}

/// <summary>The application Describe Device OS sends as JSON: <c>{"f":[names],"v":{"name":type}}</c> (<c>system_app_info</c>).</summary>
public static class ApplicationDescribe
{
    // Device OS writes names as they are; the default encoder would escape '+', '<' and friends.
    private static readonly JsonWriterOptions RelaxedEscaping = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static byte[] Encode(IEnumerable<string> functions, IEnumerable<KeyValuePair<string, CloudVariableType>> variables)
    {
        ArgumentNullException.ThrowIfNull(functions);
        ArgumentNullException.ThrowIfNull(variables);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, RelaxedEscaping))
        {
            json.WriteStartObject();
            json.WriteStartArray("f");
            foreach (string name in functions)
            {
                json.WriteStringValue(name);
            }

            json.WriteEndArray();
            json.WriteStartObject("v");
            foreach ((string name, CloudVariableType type) in variables)
            {
                json.WriteNumber(name, (int)type);
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return buffer.ToArray();
    }

    /// <summary>The JSON as text, for logs and tests.</summary>
    public static string EncodeToString(IEnumerable<string> functions, IEnumerable<KeyValuePair<string, CloudVariableType>> variables) =>
        Encoding.UTF8.GetString(Encode(functions, variables));
}
