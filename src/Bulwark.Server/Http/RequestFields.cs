using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bulwark.Server.Http;

/// <summary>The fields of a request body, whichever way the client sent them. Particle's API takes JSON or
/// form encoding on every endpoint (and <c>access_token</c> / arrays as <c>groups[]=a</c> in forms), so
/// endpoints read fields through this one type instead of binding a fixed shape.</summary>
public sealed class RequestFields
{
    /// <summary>Bodies above this size are refused outright (uploads have their own limit).</summary>
    public const long MaxBodyBytes = 1024 * 1024;

    private readonly JsonObject _fields;

    private RequestFields(JsonObject fields) => _fields = fields;

    public static RequestFields Empty => new([]);

    /// <summary>Reads the body as JSON or form fields. Throws <see cref="ApiRequestException"/> with a clear reason when it cannot.</summary>
    public static async Task<RequestFields> ReadAsync(HttpRequest request, bool formOnly = false)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ContentLength is > MaxBodyBytes)
        {
            throw new ApiRequestException(413, "payload_too_large", "The request body is too large");
        }
        var contentType = request.ContentType ?? "";
        if (request.HasFormContentType)
        {
            IFormCollection form;
            try
            {
                form = await request.ReadFormAsync(request.HttpContext.RequestAborted);
            }
            catch (InvalidDataException e)
            {
                throw ApiRequestException.BadRequest("The form body could not be read: " + e.Message);
            }
            return new RequestFields(FromForm(form));
        }
        if (formOnly)
        {
            if (request.ContentLength is null or 0 && string.IsNullOrEmpty(contentType))
            {
                return Empty;
            }
            throw new ApiRequestException(415, "unsupported_media_type", "This endpoint takes application/x-www-form-urlencoded bodies");
        }
        if (contentType.Contains("json", StringComparison.OrdinalIgnoreCase))
        {
            return new RequestFields(await ReadJsonAsync(request));
        }
        if (request.ContentLength is null or 0 && !request.Headers.ContainsKey("Transfer-Encoding"))
        {
            return Empty;
        }
        throw new ApiRequestException(415, "unsupported_media_type", "Send the body as application/json or application/x-www-form-urlencoded");
    }

    private static async Task<JsonObject> ReadJsonAsync(HttpRequest request)
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, request.HttpContext.RequestAborted)) > 0)
        {
            if (buffer.Length + read > MaxBodyBytes)
            {
                throw new ApiRequestException(413, "payload_too_large", "The request body is too large");
            }
            buffer.Write(chunk, 0, read);
        }
        if (buffer.Length == 0)
        {
            return [];
        }
        JsonNode? node;
        try
        {
            node = JsonNode.Parse(buffer.ToArray(), documentOptions: new JsonDocumentOptions { MaxDepth = 32 });
        }
        catch (JsonException e)
        {
            throw ApiRequestException.BadRequest("Malformed JSON body: " + e.Message);
        }
        return node as JsonObject ?? throw ApiRequestException.BadRequest("The JSON body must be an object");
    }

    private static JsonObject FromForm(IFormCollection form)
    {
        var result = new JsonObject();
        foreach (var (key, values) in form)
        {
            if (key.EndsWith("[]", StringComparison.Ordinal))
            {
                var array = new JsonArray();
                foreach (var v in values)
                {
                    array.Add(v);
                }
                result[key[..^2]] = array;
                continue;
            }
            var open = key.IndexOf('[', StringComparison.Ordinal);
            if (open > 0 && key.EndsWith(']'))
            {
                var outer = key[..open];
                var inner = key[(open + 1)..^1];
                if (result[outer] is not JsonObject nested)
                {
                    nested = [];
                    result[outer] = nested;
                }
                nested[inner] = values.ToString();
                continue;
            }
            result[key] = values.ToString();
        }
        return result;
    }

    public bool Has(string name) => _fields.ContainsKey(name) && _fields[name] is not null;

    /// <summary>True when the field was sent as JSON null (for fields where null means "clear", such as a firmware lock).</summary>
    public bool IsNull(string name) => _fields.ContainsKey(name) && _fields[name] is null;

    /// <summary>A string field; numbers and booleans are accepted in their text form, objects are not.</summary>
    public string? String(string name)
    {
        var node = _fields[name];
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue value)
        {
            return value.GetValueKind() switch
            {
                JsonValueKind.String => value.GetValue<string>(),
                JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False => value.ToJsonString(),
                _ => null,
            };
        }
        throw ApiRequestException.BadRequest($"The field '{name}' must be a string");
    }

    /// <summary>A string field that must be present and non-empty.</summary>
    public string Required(string name) =>
        String(name) is { Length: > 0 } s ? s : throw ApiRequestException.BadRequest($"The field '{name}' is required");

    public bool? Bool(string name)
    {
        var node = _fields[name];
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue value)
        {
            switch (value.GetValueKind())
            {
                case JsonValueKind.True:
                    return true;
                case JsonValueKind.False:
                    return false;
                case JsonValueKind.String:
                    var s = value.GetValue<string>();
                    if (bool.TryParse(s, out var b))
                    {
                        return b;
                    }
                    if (s is "1" or "0")
                    {
                        return s == "1";
                    }
                    break;
                case JsonValueKind.Number:
                    return value.GetValue<double>() != 0;
            }
        }
        throw ApiRequestException.BadRequest($"The field '{name}' must be true or false");
    }

    public long? Long(string name)
    {
        var node = _fields[name];
        if (node is null)
        {
            return null;
        }
        if (node is JsonValue value)
        {
            if (value.GetValueKind() == JsonValueKind.Number && value.TryGetValue<long>(out var l))
            {
                return l;
            }
            if (value.GetValueKind() == JsonValueKind.String
                && long.TryParse(value.GetValue<string>(), NumberStyles.Integer, CultureInfo.InvariantCulture, out l))
            {
                return l;
            }
        }
        throw ApiRequestException.BadRequest($"The field '{name}' must be a whole number");
    }

    /// <summary>A nested object (JSON object or <c>name[key]=value</c> form fields).</summary>
    public RequestFields? Object(string name) => _fields[name] switch
    {
        null => null,
        JsonObject o => new RequestFields(o),
        _ => throw ApiRequestException.BadRequest($"The field '{name}' must be an object"),
    };

    /// <summary>A list of strings (JSON array, <c>name[]=</c> form fields, or a comma-separated string).</summary>
    public IReadOnlyList<string>? StringList(string name) => _fields[name] switch
    {
        null => null,
        JsonArray a => a.Select(n => n is JsonValue v && v.GetValueKind() == JsonValueKind.String
            ? v.GetValue<string>()
            : throw ApiRequestException.BadRequest($"The field '{name}' must be a list of strings")).ToList(),
        JsonValue v when v.GetValueKind() == JsonValueKind.String =>
            v.GetValue<string>().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        _ => throw ApiRequestException.BadRequest($"The field '{name}' must be a list of strings"),
    };
}
