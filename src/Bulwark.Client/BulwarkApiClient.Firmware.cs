using System.Globalization;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Serialization;
using Bulwark.Contracts;

namespace Bulwark.Client;

/// <summary>Product firmware (<c>/v1/products/:p/firmware</c>), device groups (<c>/v1/products/:p/groups</c>), the release
/// impact preview, and development flashing of one device (<c>PUT /v1/devices/:id</c> with a binary).</summary>
public sealed partial class BulwarkApiClient
{
    /// <summary><c>POST /v1/products/:p/firmware</c> as multipart: the module in a part named <c>binary</c>, and
    /// <c>version</c>, <c>title</c>, <c>description</c>. The binary is streamed as it is read, so a caller that wants a
    /// progress bar wraps <paramref name="binary"/> in a stream that counts what is read.</summary>
    public Task<FirmwareResponse> UploadProductFirmwareAsync(string product, Stream binary, string fileName, int version, string title,
        string? description = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(binary);
        ArgumentException.ThrowIfNullOrWhiteSpace(title);
        var file = new StreamContent(binary, 16 * 1024);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var form = new MultipartFormDataContent
        {
            { new StringContent(version.ToString(CultureInfo.InvariantCulture)), "version" },
            { new StringContent(title), "title" },
        };
        if (description is not null)
        {
            form.Add(new StringContent(description), "description");
        }
        form.Add(file, "binary", string.IsNullOrWhiteSpace(fileName) ? "firmware.bin" : Path.GetFileName(fileName));
        return SendAsync<FirmwareResponse>(Request(HttpMethod.Post, $"v1/products/{Escape(product)}/firmware", form), cancellationToken);
    }

    /// <summary><c>GET /v1/products/:p/firmware</c>, by version.</summary>
    public Task<IReadOnlyList<FirmwareResponse>> ListProductFirmwareAsync(string product, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return SendAsync<IReadOnlyList<FirmwareResponse>>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/firmware"), cancellationToken);
    }

    /// <summary><c>GET /v1/products/:p/firmware/:version</c>.</summary>
    public Task<FirmwareResponse> GetProductFirmwareAsync(string product, int version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return SendAsync<FirmwareResponse>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/firmware/{Number(version)}"), cancellationToken);
    }

    /// <summary><c>PUT /v1/products/:p/firmware/release {version, product_default?, groups?, intelligent?}</c>. A null
    /// <see cref="FirmwareRelease.Groups"/> leaves the groups alone; a list is the firmware's whole set of groups.</summary>
    public Task<FirmwareResponse> ReleaseProductFirmwareAsync(string product, FirmwareRelease release, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(release);
        return SendAsync<FirmwareResponse>(Request(HttpMethod.Put, $"v1/products/{Escape(product)}/firmware/release", Json(release)), cancellationToken);
    }

    /// <summary><c>GET /v1/products/:p/firmware/:version/binary</c>: copies the module to <paramref name="destination"/>.</summary>
    public async Task DownloadProductFirmwareAsync(string product, int version, Stream destination, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(destination);
        using var request = Request(HttpMethod.Get, $"v1/products/{Escape(product)}/firmware/{Number(version)}/binary");
        request.Headers.Accept.Clear();
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/octet-stream"));
        using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        if (!response.IsSuccessStatusCode)
        {
            throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
        }
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await body.CopyToAsync(destination, cancellationToken).ConfigureAwait(false);
    }

    /// <summary><c>DELETE /v1/products/:p/firmware/:version</c>: only while it has never been released.</summary>
    public Task DeleteProductFirmwareAsync(string product, int version, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        return SendEmptyAsync(Request(HttpMethod.Delete, $"v1/products/{Escape(product)}/firmware/{Number(version)}"), cancellationToken);
    }

    /// <summary><c>GET /v1/products/:p/impact?action=edit_groups_for_firmware&amp;...</c>: how many devices the release would
    /// send <see cref="FirmwareRelease.Version"/> to now. After the release it counts the devices still waiting for it.</summary>
    public async Task<FirmwareUpdateImpact> GetReleaseImpactAsync(string product, FirmwareRelease release, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(release);
        var query = $"?action=edit_groups_for_firmware&firmware_version={Number(release.Version)}";
        if (release.ProductDefault is { } productDefault)
        {
            query += "&product_default=" + (productDefault ? "true" : "false");
        }
        if (release.Groups is { } groups)
        {
            query += "&groups=" + Uri.EscapeDataString(string.Join(',', groups));
        }
        return (await SendAsync<ImpactResponse>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/impact{query}"), cancellationToken)
            .ConfigureAwait(false)).Devices.FirmwareUpdate;
    }

    /// <summary><c>GET /v1/products/:p/devices</c>, every page, as raw device objects (firmware fields included).</summary>
    public async Task<IReadOnlyList<JsonElement>> ListProductDevicesAsync(string product, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        var all = new List<JsonElement>();
        for (var page = 1; ; page++)
        {
            var result = await SendAsync<JsonElement>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/devices?perPage=1000&page={Number(page)}"),
                cancellationToken).ConfigureAwait(false);
            if (result.TryGetProperty("devices", out var devices) && devices.ValueKind == JsonValueKind.Array)
            {
                all.AddRange(devices.EnumerateArray().Select(d => d.Clone()));
            }
            var totalPages = result.TryGetProperty("meta", out var meta) && meta.TryGetProperty("total_pages", out var t) && t.ValueKind == JsonValueKind.Number
                ? t.GetInt32() : 1;
            if (page >= totalPages)
            {
                return all;
            }
        }
    }

    /// <summary><c>GET /v1/products/:p/groups[?name=partial]</c>.</summary>
    public async Task<IReadOnlyList<DeviceGroupResponse>> ListDeviceGroupsAsync(string product, string? nameContains = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        var query = string.IsNullOrWhiteSpace(nameContains) ? "" : "?name=" + Uri.EscapeDataString(nameContains);
        return (await SendAsync<DeviceGroupListResponse>(Request(HttpMethod.Get, $"v1/products/{Escape(product)}/groups{query}"), cancellationToken)
            .ConfigureAwait(false)).Groups;
    }

    /// <summary><c>POST /v1/products/:p/groups {name, description?, color?}</c>.</summary>
    public async Task<DeviceGroupResponse> CreateDeviceGroupAsync(string product, DeviceGroupChange group, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentNullException.ThrowIfNull(group);
        return (await SendAsync<DeviceGroupEnvelope>(Request(HttpMethod.Post, $"v1/products/{Escape(product)}/groups", Json(group)), cancellationToken)
            .ConfigureAwait(false)).Group;
    }

    /// <summary><c>PUT /v1/products/:p/groups/:name {name?, description?, color?}</c>: null fields are left alone.</summary>
    public async Task<DeviceGroupResponse> UpdateDeviceGroupAsync(string product, string groupName, DeviceGroupChange change,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentException.ThrowIfNullOrWhiteSpace(groupName);
        ArgumentNullException.ThrowIfNull(change);
        return (await SendAsync<DeviceGroupEnvelope>(
            Request(HttpMethod.Put, $"v1/products/{Escape(product)}/groups/{Escape(groupName)}", Json(change)), cancellationToken).ConfigureAwait(false)).Group;
    }

    /// <summary><c>DELETE /v1/products/:p/groups/:name</c>; members of a group with a release fall back to the product default.</summary>
    public Task DeleteDeviceGroupAsync(string product, string groupName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(product);
        ArgumentException.ThrowIfNullOrWhiteSpace(groupName);
        return SendEmptyAsync(Request(HttpMethod.Delete, $"v1/products/{Escape(product)}/groups/{Escape(groupName)}"), cancellationToken);
    }

    /// <summary><c>PUT /v1/devices/:id</c> with the module in a multipart part named <c>file</c>: development flashing of one
    /// owned, online device.</summary>
    public Task<FlashResult> FlashDeviceAsync(string deviceId, Stream binary, string fileName, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(deviceId);
        ArgumentNullException.ThrowIfNull(binary);
        var file = new StreamContent(binary, 16 * 1024);
        file.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        var form = new MultipartFormDataContent
        {
            { file, "file", string.IsNullOrWhiteSpace(fileName) ? "firmware.bin" : Path.GetFileName(fileName) },
            { new StringContent("binary"), "file_type" },
        };
        return SendAsync<FlashResult>(Request(HttpMethod.Put, "v1/devices/" + Escape(deviceId), form), cancellationToken);
    }

    private async Task SendEmptyAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        using (request)
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead, cancellationToken).ConfigureAwait(false);
            if (!response.IsSuccessStatusCode)
            {
                throw await ErrorFromAsync(response, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>The body of <c>PUT /v1/products/:p/firmware/release</c>.</summary>
public sealed record FirmwareRelease
{
    public int Version { get; init; }

    /// <summary>True makes it the product default; false stops it being the default; null leaves that alone.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? ProductDefault { get; init; }

    /// <summary>The groups it is released to (the whole set); null leaves the groups alone.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<string>? Groups { get; init; }

    /// <summary>True sends it to online devices at once instead of at their next connection.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public bool? Intelligent { get; init; }
}

/// <summary>A device group to create, or the fields of one to change (null fields are left alone).</summary>
public sealed record DeviceGroupChange
{
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Description { get; init; }

    /// <summary><c>#rrggbb</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Color { get; init; }
}

/// <summary>The answer to a development flash: <c>{id, status: "Update started", ok}</c>.</summary>
public sealed record FlashResult
{
    public string Id { get; init; } = "";

    public string? Status { get; init; }

    public bool Ok { get; init; }
}
