using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Client;

/// <summary>The caller's devices (<c>/v1/devices</c>): list, get, rename, claim, release, call a function, read a variable.</summary>
public sealed partial class BulwarkApiClient
{
    public Task<IReadOnlyList<DeviceInfo>> ListDevicesAsync(CancellationToken cancellationToken = default) =>
        SendAsync<IReadOnlyList<DeviceInfo>>(Request(HttpMethod.Get, "v1/devices"), cancellationToken);

    /// <summary>One device by ID (or by name).</summary>
    public Task<DeviceInfo> GetDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        return SendAsync<DeviceInfo>(Request(HttpMethod.Get, "v1/devices/" + Escape(deviceId)), cancellationToken);
    }

    /// <summary>Device vitals, <c>GET /v1/diagnostics/:id/last</c> (or the product's path when <paramref name="product"/> is
    /// given): <c>{diagnostics: {updated_at, deviceID, payload}}</c>.</summary>
    public Task<JsonElement> GetDeviceVitalsAsync(string deviceId, string? product = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        var path = string.IsNullOrWhiteSpace(product)
            ? $"v1/diagnostics/{Escape(deviceId.Trim())}/last"
            : $"v1/products/{Escape(product.Trim())}/diagnostics/{Escape(deviceId.Trim())}/last";
        return SendAsync<JsonElement>(Request(HttpMethod.Get, path), cancellationToken);
    }

    /// <summary><c>PUT /v1/devices/:id</c> with the name and/or notes.</summary>
    public Task<DeviceUpdateResult> UpdateDeviceAsync(string deviceId, DeviceUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentNullException.ThrowIfNull(update);
        return SendAsync<DeviceUpdateResult>(Request(HttpMethod.Put, "v1/devices/" + Escape(deviceId), Json(update)), cancellationToken);
    }

    public Task<DeviceUpdateResult> RenameDeviceAsync(string deviceId, string name, CancellationToken cancellationToken = default) =>
        UpdateDeviceAsync(deviceId, new DeviceUpdate { Name = name }, cancellationToken);

    /// <summary><c>POST /v1/devices {id}</c>: adds an unowned device to the account.</summary>
    public Task<DeviceClaimResult> ClaimDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        return SendAsync<DeviceClaimResult>(Request(HttpMethod.Post, "v1/devices", Json(new DeviceIdBody(deviceId))), cancellationToken);
    }

    /// <summary><c>DELETE /v1/devices/:id</c>: removes the device from the account.</summary>
    public Task<Contracts.OkResponse> ReleaseDeviceAsync(string deviceId, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        return SendAsync<Contracts.OkResponse>(Request(HttpMethod.Delete, "v1/devices/" + Escape(deviceId)), cancellationToken);
    }

    /// <summary><c>POST /v1/devices/:id/:function {arg}</c>.</summary>
    public Task<FunctionCallResult> CallFunctionAsync(string deviceId, string function, string? argument = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentException.ThrowIfNullOrWhiteSpace(function);
        return SendAsync<FunctionCallResult>(
            Request(HttpMethod.Post, $"v1/devices/{Escape(deviceId)}/{Escape(function)}", Json(new FunctionArgumentBody(argument ?? ""))),
            cancellationToken);
    }

    /// <summary><c>GET /v1/devices/:id/:variable</c>.</summary>
    public Task<VariableResult> GetVariableAsync(string deviceId, string variable, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentException.ThrowIfNullOrWhiteSpace(variable);
        return SendAsync<VariableResult>(Request(HttpMethod.Get, $"v1/devices/{Escape(deviceId)}/{Escape(variable)}"), cancellationToken);
    }
}

/// <summary>The Particle device object (<c>GET /v1/devices[/:id]</c>).</summary>
public sealed record DeviceInfo
{
    public string Id { get; init; } = "";

    public string? Name { get; init; }

    public string? Owner { get; init; }

    public string? LastIpAddress { get; init; }

    public DateTime? LastHeard { get; init; }

    public DateTime? LastHandshakeAt { get; init; }

    public int? ProductId { get; init; }

    public bool Online { get; init; }

    public bool Connected { get; init; }

    public int? PlatformId { get; init; }

    public bool Cellular { get; init; }

    public string? Notes { get; init; }

    public IReadOnlyList<string>? Functions { get; init; }

    public IReadOnlyDictionary<string, string>? Variables { get; init; }

    public string? SerialNumber { get; init; }

    public string? Status { get; init; }

    public string? SystemFirmwareVersion { get; init; }

    public int? FirmwareVersion { get; init; }
}

/// <summary><c>PUT /v1/devices/:id</c>: the fields to change; null fields are left alone.</summary>
public sealed record DeviceUpdate
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Notes { get; init; }
}

public sealed record DeviceUpdateResult(string Id, string? Name = null, string? Notes = null, DateTime? UpdatedAt = null);

public sealed record DeviceClaimResult(bool Ok, string? UserId, string Id);

public sealed record FunctionCallResult(string Id, string? Name, bool Connected, int ReturnValue);

/// <summary>A variable's value: a JSON bool, number or string depending on the variable's type.</summary>
public sealed record VariableResult(string Name, JsonElement Result, [property: JsonPropertyName("coreInfo")] JsonElement? CoreInfo = null);

internal sealed record DeviceIdBody(string Id);

internal sealed record FunctionArgumentBody(string Arg);
