namespace Bulwark.Server.Data;

/// <summary>A device known to the cloud: its identity (ID and public keys), its owner, and what it last told us.</summary>
public sealed class Device
{
    /// <summary>24 lowercase hex characters.</summary>
    public required string Id { get; set; }
    /// <summary>The RSA-1024 public key (PEM) the device proves itself with over TCP.</summary>
    public string? PublicKeyPem { get; set; }
    /// <summary>The EC P-256 public key (PEM) for UDP and Device Protection.</summary>
    public string? EcPublicKeyPem { get; set; }
    public string? OwnerUserId { get; set; }
    public string? Name { get; set; }
    public string? Notes { get; set; }
    public string? SerialNumber { get; set; }
    public int? PlatformId { get; set; }
    /// <summary>From the Hello; equals the platform ID for devices outside a product.</summary>
    public int? ProductId { get; set; }
    public int? ProductFirmwareVersion { get; set; }
    /// <summary>Device OS module version from the Hello (e.g. 6200).</summary>
    public int? SystemVersion { get; set; }
    public int? HelloFlags { get; set; }
    /// <summary>From the application Describe: JSON array of function names.</summary>
    public string? Functions { get; set; }
    /// <summary>From the application Describe: JSON object of variable name to Particle type code.</summary>
    public string? Variables { get; set; }
    /// <summary>From the system Describe (protobuf): the firmware modules as Describe JSON (<c>[{"f","n","v","d",...}]</c>).</summary>
    public string? SystemModules { get; set; }
    public string? LastIpAddress { get; set; }
    public DateTime? LastHeard { get; set; }
    public DateTime? LastHandshakeAt { get; set; }
    public DateTime CreatedAt { get; set; }
    public DateTime? ClaimedAt { get; set; }
    /// <summary>The product the cloud holds the device in (added, imported, approved or auto-approved); null outside
    /// products. Unlike <see cref="ProductId"/>, firmware cannot set it.</summary>
    public int? CloudProductId { get; set; }
    /// <summary>The last admission decision: <c>full</c>, <c>limited</c> or <c>none</c> (Features/Admission).</summary>
    public string? ProductPrivileges { get; set; }
    /// <summary>Device Protection: <c>disabled</c> (null), <c>pending</c>, <c>active</c> or <c>service_mode</c> (Features/DeviceProtection).</summary>
    public string? DeviceProtectionStatus { get; set; }
}
