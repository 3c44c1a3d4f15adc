using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>The Server-Sent Event streams (<c>GET /v1/devices/events[/:prefix]</c>, <c>GET /v1/devices/:id/events[/:prefix]</c>).</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary>Streams the caller's events as they arrive, optionally only names starting with <paramref name="prefix"/>
    /// and only from <paramref name="deviceId"/>. Ends when the server ends the stream; cancel to stop early.</summary>
    public async IAsyncEnumerable<DeviceEvent> StreamEventsAsync(string? prefix = null, string? deviceId = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var path = string.IsNullOrEmpty(deviceId) ? "v1/devices/events" : $"v1/devices/{Escape(deviceId)}/events";
        if (!string.IsNullOrEmpty(prefix))
        {
            path += "/" + string.Join('/', prefix.Split('/').Select(Escape));
        }
        using var request = Request(HttpMethod.Get, path);
        request.Headers.Accept.Clear();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
        }
        using var stream = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        string? name = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(cancellationToken).ConfigureAwait(false) is { } line)
        {
            if (line.Length == 0)
            {
                // A blank line ends one event.
                if (name is not null && data.Length > 0)
                {
                    yield return DeviceEvent.Parse(name, data.ToString());
                }
                name = null;
                data.Clear();
            }
            else if (line[0] == ':')
            {
                // A comment: the ":ok" greeting or a keep-alive.
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal))
            {
                name = line[6..].TrimStart(' ');
            }
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (data.Length > 0)
                {
                    data.Append('\n');
                }
                data.Append(line.AsSpan(5).TrimStart(' '));
            }
        }
    }
}

/// <summary>One event from a stream: its name and the <c>{data, ttl, published_at, coreid}</c> payload.</summary>
public sealed record DeviceEvent(
    string Name,
    string? Data,
    int Ttl,
    DateTime? PublishedAt,
    [property: JsonPropertyName("coreid")] string? CoreId)
{
    internal static DeviceEvent Parse(string name, string json)
    {
        try
        {
            var payload = JsonSerializer.Deserialize<Payload>(json, ApiJson.Options);
            return new DeviceEvent(name, payload?.Data, payload?.Ttl ?? 0, payload?.PublishedAt, payload?.CoreId);
        }
        catch (JsonException)
        {
            // Not Particle's JSON payload: keep the text as the data.
            return new DeviceEvent(name, json, 0, null, null);
        }
    }

    private sealed record Payload(string? Data, int? Ttl, DateTime? PublishedAt, [property: JsonPropertyName("coreid")] string? CoreId);
}
