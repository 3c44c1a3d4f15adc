using System.Text.Json.Serialization;

namespace Bulwark.Contracts;

/// <summary>Who uploaded a product firmware.</summary>
public sealed record FirmwareUploader(string? Username);

/// <summary>A product firmware as Particle spells it (particle-api.md 5.1), plus what Bulwark read from the binary.</summary>
public sealed record FirmwareResponse(
    [property: JsonPropertyName("_id")] string Id,
    int Version,
    string Title,
    string? Description,
    string Name,
    int Size,
    bool ProductDefault,
    IReadOnlyList<string> Groups,
    bool Mandatory,
    bool Intelligent,
    DateTime UploadedOn,
    int ProductId,
    FirmwareUploader UploadedBy,
    int DeviceCount,
    DateTime? UpdatedAt,
    bool Released,
    int PlatformId,
    string Sha256,
    int? RequiredSystemVersion,
    bool Protected)
{
    /// <summary>Older particle-api-js spelling of <see cref="ProductDefault"/>.</summary>
    public bool Current => ProductDefault;

    /// <summary>Older spelling of <see cref="UploadedOn"/>.</summary>
    public DateTime UploadedAt => UploadedOn;
}

/// <summary>A device group (particle-api.md 5.2).</summary>
public sealed record DeviceGroupResponse(string Name, string? Description, string? Color, int? FwVersion, int DeviceCount);

public sealed record DeviceGroupEnvelope(DeviceGroupResponse Group);

public sealed record DeviceGroupListResponse(IReadOnlyList<DeviceGroupResponse> Groups);

/// <summary><c>GET /v1/products/:p/impact</c>: how many devices a release would move, by the version they run now.</summary>
public sealed record ImpactResponse(ImpactDevices Devices);

public sealed record ImpactDevices(FirmwareUpdateImpact FirmwareUpdate);

public sealed record FirmwareUpdateImpact(int Total, IReadOnlyList<VersionCount> ByVersion);

public sealed record VersionCount(int? Version, int Total);

/// <summary>One Device OS release in the catalogue (particle-api.md 5.3); <c>lts</c> is Bulwark's (even major = LTS).</summary>
public sealed record DeviceOsVersionResponse(
    string Version,
    int InternalVersion,
    string State,
    string ReleaseState,
    bool Lts,
    string? BaseUrl,
    IReadOnlyList<int> SupportedPlatforms);

public sealed record DeviceOsVersionListResponse(IReadOnlyList<DeviceOsVersionResponse> Versions, PageMeta Meta);

public sealed record PageMeta(int Total, int Page, int PerPage, int TotalPages);

/// <summary>A product device whose Device OS is behind the newest release for its platform, or not on an LTS line.</summary>
public sealed record DeviceOsFleetEntry(string Id, string? Name, int PlatformId, string? SystemFirmwareVersion, bool Lts, bool Outdated, string? Latest, string? LatestLts);

public sealed record DeviceOsFleetReport(int Total, int Outdated, int NonLts, IReadOnlyList<DeviceOsFleetEntry> Devices);
