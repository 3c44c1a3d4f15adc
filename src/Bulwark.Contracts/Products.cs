namespace Bulwark.Contracts;

/// <summary>A product as particle-api-js's <c>ProductInfo</c> spells it.</summary>
public sealed record ProductResponse(
    int Id,
    int PlatformId,
    string Name,
    string Slug,
    string? Description,
    string Hardware,
    string? User,
    string? Org,
    string? Organization,
    string? OrganizationId,
    string? SubscriptionId,
    int? MbLimit,
    IReadOnlyList<string> Groups,
    ProductSettingsResponse Settings,
    string DeviceProtection,
    bool RequiresActivationCodes,
    DateTime CreatedAt);

/// <summary>Product settings: <c>quarantine</c> mirrors the unrecognized-device policy for Particle's clients.</summary>
public sealed record ProductSettingsResponse(
    OptInSetting Location,
    OptInSetting KnownApplication,
    bool Quarantine,
    string UnrecognizedDevices);

/// <summary>An <c>{opt_in}</c> flag (<c>settings.location</c>, <c>settings.known_application</c>).</summary>
public sealed record OptInSetting(bool OptIn);

/// <summary><c>GET /v1/products</c>, <c>/v1/user/products</c>, <c>/v1/orgs/:org/products</c>.</summary>
public sealed record ProductListResponse(IReadOnlyList<ProductResponse> Products);

/// <summary><c>GET /v1/products/:productIdOrSlug</c> and the create/update answers.</summary>
public sealed record ProductEnvelope(ProductResponse Product);

/// <summary>One entry of the platform table (<c>GET /v1/platforms</c> is not Particle's; the CLI can use it for help text).</summary>
public sealed record PlatformResponse(int Id, string Name, string DisplayName, bool ProductEligible, IReadOnlyList<string> Hardware);
