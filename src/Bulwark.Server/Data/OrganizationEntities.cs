namespace Bulwark.Server.Data;

/// <summary>An enterprise account: owns products and has members with organization-wide roles.</summary>
public sealed class Organization
{
    public required string Id { get; set; }
    public required string Name { get; set; }
    /// <summary>Lower-case, unique, never all digits (so <c>:orgIdOrSlug</c> is unambiguous).</summary>
    public required string Slug { get; set; }
    /// <summary>When on, human members without two-step authentication are refused until they enable it.</summary>
    public bool RequireMfa { get; set; }
    public DateTime CreatedAt { get; set; }
    public string? CreatedById { get; set; }
}

/// <summary>A fleet of one kind of device, owned by a user or by an organization (exactly one of the two).</summary>
public sealed class Product
{
    /// <summary>Numeric, as Particle's are: firmware carries it as a 16-bit PRODUCT_ID, so 1001 to 65535 (below that it
    /// could be mistaken for a platform id, which Device OS reports when a device has no product).</summary>
    public int Id { get; set; }
    public required string Slug { get; set; }
    public required string Name { get; set; }
    public string? Description { get; set; }
    public int PlatformId { get; set; }
    /// <summary>The hardware family within the platform (P2 and Photon 2 share platform 32 but not a product).</summary>
    public required string Hardware { get; set; }
    public string? OwnerUserId { get; set; }
    public string? OrganizationId { get; set; }
    /// <summary><c>quarantine</c> (the default) or <c>auto-approve</c>.</summary>
    public required string UnrecognizedDevicePolicy { get; set; }
    public bool LocationOptIn { get; set; }
    public bool KnownApplicationOptIn { get; set; }
    public DateTime CreatedAt { get; set; }
}

/// <summary>A membership of a product team or an organization team (exactly one of the two). A person has a
/// <see cref="Role"/>; an API user has none and holds exactly its <see cref="Scopes"/>.</summary>
public sealed class TeamMember
{
    public required string Id { get; set; }
    public int? ProductId { get; set; }
    public string? OrganizationId { get; set; }
    public required string UserId { get; set; }
    /// <summary>Stored role id (<c>owner</c>, <c>administrator</c>, ...); null for API users.</summary>
    public string? Role { get; set; }
    public string? FriendlyName { get; set; }
    /// <summary>API users only: space-separated scope strings.</summary>
    public string? Scopes { get; set; }
    public DateTime CreatedAt { get; set; }
    public string? CreatedById { get; set; }
}
