using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;

namespace Bulwark.Client;

/// <summary>A product's devices (<c>/v1/products/:p/devices</c>): add and import, list (with the quarantine and denied
/// lists), remove and deny. Answers are Particle's shapes, returned as JSON.</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>POST /v1/products/:p/devices {ids}</c>: adds (or approves) devices; answers updatedDeviceIds and the rest.</summary>
    public Task<JsonElement> AddProductDevicesAsync(string product, IReadOnlyCollection<string> ids, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(ids);
        return SendJsonAsync(Request(HttpMethod.Post, $"v1/products/{Escape(product)}/devices", Json(new { ids })), cancellationToken);
    }

    /// <summary><c>POST /v1/products/:p/devices</c> with a multipart <c>file</c> of device IDs or serial numbers, one a line.
    /// A malformed file is refused whole; the exception's description names the bad lines.</summary>
    public Task<JsonElement> ImportProductDevicesAsync(string product, byte[] file, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(file);
        var content = new MultipartFormDataContent();
        var part = new ByteArrayContent(file);
        part.Headers.ContentType = new MediaTypeHeaderValue("text/plain");
        content.Add(part, "file", "file");
        return SendJsonAsync(Request(HttpMethod.Post, $"v1/products/{Escape(product)}/devices", content), cancellationToken);
    }

    /// <summary><c>DELETE /v1/products/:p/devices/:id</c>, with <c>{deny:true}</c> to deny.</summary>
    public async Task RemoveProductDeviceAsync(string product, string deviceId, bool deny, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        using var request = Request(HttpMethod.Delete, $"v1/products/{Escape(product)}/devices/{Escape(deviceId)}", deny ? Json(new { deny = true }) : null);
        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary><c>GET /v1/products/:p/devices</c> with filters such as <c>quarantined=true</c>, <c>denied=true</c>,
    /// <c>deviceName</c>, <c>sortAttr</c>, <c>page</c>, <c>perPage</c>.</summary>
    public Task<JsonElement> ListProductDevicesAsync(string product, IReadOnlyDictionary<string, string>? query = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        var path = $"v1/products/{Escape(product)}/devices";
        if (query is { Count: > 0 })
        {
            path += "?" + string.Join('&', query.Select(q => Uri.EscapeDataString(q.Key) + "=" + Uri.EscapeDataString(q.Value)));
        }
        return SendJsonAsync(Request(HttpMethod.Get, path), cancellationToken);
    }

    private async Task<JsonElement> SendJsonAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
            var body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            JsonElement json;
            try
            {
                json = body.Length == 0 ? default : JsonDocument.Parse(body).RootElement.Clone();
            }
            catch (JsonException)
            {
                json = default;
            }
            if (response.IsSuccessStatusCode)
            {
                return json;
            }
            if (json.ValueKind == JsonValueKind.Object && json.TryGetProperty("lines", out var lines) && lines.ValueKind == JsonValueKind.Array)
            {
                // The import's per-line report: keep it in the message, it is the whole point of the refusal.
                var report = string.Join(Environment.NewLine, lines.EnumerateArray().Take(50).Select(l => string.Format(CultureInfo.InvariantCulture,
                    "  line {0}: {1} ({2})", l.GetProperty("line").GetInt32(), l.GetProperty("problem").GetString(), l.GetProperty("value").GetString())));
                var description = json.TryGetProperty("error_description", out var d) ? d.GetString() : "The file was refused";
                throw new BulwarkApiException(response.StatusCode, "invalid_file", description + Environment.NewLine + report);
            }
            using var again = new HttpResponseMessage(response.StatusCode) { Content = new StringContent(body) };
            throw await ErrorFromAsync(again, cancellationToken).ConfigureAwait(false);
        }
    }
}
