using System.Text.Json;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Device Protection: enabling it on a product (<c>PUT /v1/products/:p {device_protection: "active"}</c>), the cloud's
/// half of Service Mode (<c>PUT /v1/devices/:id/unprotect {action}</c>), and the product's fleet report.</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>PUT /v1/products/:p {device_protection: "active"}</c>: irreversible; the product's owner or an administrator.</summary>
    public async Task<Contracts.ProductResponse> EnableDeviceProtectionAsync(string product, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        var body = new Dictionary<string, object?> { ["device_protection"] = "active" };
        return (await SendAsync<ProductEnvelope>(Request(HttpMethod.Put, "v1/products/" + Escape(product), Json(body)), cancellationToken)
            .ConfigureAwait(false)).Product;
    }

    /// <summary><c>PUT /v1/devices/:id/unprotect {action: "prepare"}</c>: the 32-byte server nonce to give the device.</summary>
    public async Task<byte[]> PrepareServiceModeAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        var reply = await UnprotectAsync(deviceId, new Dictionary<string, object?> { ["action"] = "prepare" }, cancellationToken).ConfigureAwait(false);
        return FromBase64(reply, "server_nonce");
    }

    /// <summary><c>PUT /v1/devices/:id/unprotect {action: "confirm", ...}</c> with what the device answered to PREPARE: the
    /// server signature and the server key fingerprint to give the device.</summary>
    public async Task<ServiceModeConfirmResult> ConfirmServiceModeAsync(string deviceId, byte[] serverNonce, byte[] deviceNonce, byte[] deviceSignature,
        byte[] devicePublicKeyFingerprint, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentNullException.ThrowIfNull(serverNonce);
        ArgumentNullException.ThrowIfNull(deviceNonce);
        ArgumentNullException.ThrowIfNull(deviceSignature);
        ArgumentNullException.ThrowIfNull(devicePublicKeyFingerprint);
        var reply = await UnprotectAsync(deviceId, new Dictionary<string, object?>
        {
            ["action"] = "confirm",
            ["server_nonce"] = Convert.ToBase64String(serverNonce),
            ["device_nonce"] = Convert.ToBase64String(deviceNonce),
            ["device_signature"] = Convert.ToBase64String(deviceSignature),
            ["device_public_key_fingerprint"] = Convert.ToBase64String(devicePublicKeyFingerprint),
        }, cancellationToken).ConfigureAwait(false);
        return new ServiceModeConfirmResult(FromBase64(reply, "server_signature"), FromBase64(reply, "server_public_key_fingerprint"));
    }

    /// <summary><c>PUT /v1/devices/:id/unprotect {action: "reset"}</c>: ends Service Mode in the cloud; the device's protection status after.</summary>
    public async Task<string?> ResetServiceModeAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        var reply = await UnprotectAsync(deviceId, new Dictionary<string, object?> { ["action"] = "reset" }, cancellationToken).ConfigureAwait(false);
        return reply.TryGetProperty("device_protection", out var p) && p.ValueKind == JsonValueKind.Object && p.TryGetProperty("status", out var s)
            ? s.GetString()
            : null;
    }

    /// <summary><c>GET /v1/devices/:id</c>: the cloud's <c>device_protection.status</c> for the device (disabled, pending, active,
    /// service_mode), null when the server reports none.</summary>
    public async Task<string?> GetDeviceProtectionStatusAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        var device = await SendAsync<JsonElement>(Request(HttpMethod.Get, "v1/devices/" + Escape(deviceId.Trim())), cancellationToken).ConfigureAwait(false);
        return device.ValueKind == JsonValueKind.Object && device.TryGetProperty("device_protection", out var p) && p.ValueKind == JsonValueKind.Object
            && p.TryGetProperty("status", out var s) && s.ValueKind == JsonValueKind.String
            ? s.GetString()
            : null;
    }

    /// <summary><c>GET /v1/products/:p/device-protection</c>: counts per status and the devices that cannot be protected.</summary>
    public Task<JsonElement> GetDeviceProtectionReportAsync(string product, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return SendAsync<JsonElement>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/device-protection"), cancellationToken);
    }

    private Task<JsonElement> UnprotectAsync(string deviceId, Dictionary<string, object?> body, CancellationToken cancellationToken) =>
        SendAsync<JsonElement>(Request(HttpMethod.Put, $"v1/devices/{Escape(deviceId.Trim())}/unprotect", Json(body)), cancellationToken);

    private static byte[] FromBase64(JsonElement reply, string name)
    {
        if (reply.ValueKind == JsonValueKind.Object && reply.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String)
        {
            try
            {
                return Convert.FromBase64String(value.GetString()!);
            }
            catch (FormatException)
            {
            }
        }
        throw new InvalidDataException($"The server's answer has no valid '{name}'");
    }
}

/// <summary>What the cloud's Service Mode confirm returns for the device's CONFIRM request.</summary>
public sealed record ServiceModeConfirmResult(byte[] ServerSignature, byte[] ServerPublicKeyFingerprint);
