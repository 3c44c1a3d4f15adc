using System.Globalization;

namespace Bulwark.Client;

/// <summary>The cloud's public key (<c>GET /v1/keys/server</c>) and device key registration (<c>POST /v1/provisioning/:deviceId</c>).</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary>The server key blob a device stores (<c>format=device</c>): 512 bytes for tcp, 320 for udp, with the
    /// cloud's address (<paramref name="host"/>, and <paramref name="port"/> when given) inside.</summary>
    public async Task<byte[]> GetServerKeyBlobAsync(string host, string protocol = "tcp", int? port = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(host);
        ArgumentException.ThrowIfNullOrWhiteSpace(protocol);
        var path = $"v1/keys/server?protocol={Escape(protocol)}&format=device&host={Escape(host)}";
        if (port is { } p)
        {
            path += "&port=" + p.ToString(CultureInfo.InvariantCulture);
        }
        using var request = Request(HttpMethod.Get, path, auth: AuthMode.BearerIfAvailable);
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
        }
        return await response.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Registers a device's public key (PEM); <paramref name="algorithm"/> is <c>rsa</c> or <c>ecc</c>.</summary>
    public Task<KeyRegistrationResult> RegisterDeviceKeyAsync(string deviceId, string publicKeyPem, string? algorithm = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentException.ThrowIfNullOrWhiteSpace(publicKeyPem);
        return SendAsync<KeyRegistrationResult>(
            Request(HttpMethod.Post, "v1/provisioning/" + Escape(deviceId), Json(new KeyRegistrationBody(publicKeyPem, algorithm))),
            cancellationToken);
    }
}

public sealed record KeyRegistrationResult(bool Ok, string? Id, string? DeviceId, string? Algorithm);

internal sealed record KeyRegistrationBody(
    [property: System.Text.Json.Serialization.JsonPropertyName("publicKey")] string PublicKey,
    [property: System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    string? Algorithm);
