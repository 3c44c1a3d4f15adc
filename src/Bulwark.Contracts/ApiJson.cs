using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Contracts;

/// <summary>The JSON conventions of the Particle API: snake_case names, nulls kept, ISO-8601 UTC times.</summary>
public static class ApiJson
{
    /// <summary>Options shared by the server, the client and the CLI so both ends agree on every name.</summary>
    public static JsonSerializerOptions Options { get; } = Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web));

    /// <summary>Applies the API conventions to an existing options object (ASP.NET Core owns its own instance).</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.DictionaryKeyPolicy = null;
        options.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
        options.NumberHandling = JsonNumberHandling.AllowReadingFromString;
        options.Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping;
        return options;
    }
}
