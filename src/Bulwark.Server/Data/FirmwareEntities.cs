using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Data;

/// <summary>A product firmware release candidate: one uploaded, validated binary per (product, version).</summary>
public sealed class ProductFirmware
{
    public int ProductId { get; set; }
    /// <summary>The PRODUCT_VERSION in the binary, 1 to 65535.</summary>
    public int Version { get; set; }
    /// <summary>Particle's <c>_id</c>.</summary>
    public required string Id { get; set; }
    public required string Title { get; set; }
    public string? Description { get; set; }
    public required string FileName { get; set; }
    public int Size { get; set; }
    /// <summary>Hex SHA-256 of the whole file.</summary>
    public required string Sha256 { get; set; }
    public int PlatformId { get; set; }
    public int ModuleVersion { get; set; }
    /// <summary>Lowest Device OS module version the binary's dependencies accept; null when it names none.</summary>
    public int? RequiredSystemVersion { get; set; }
    public bool IsProtected { get; set; }
    public bool ProductDefault { get; set; }
    public bool Intelligent { get; set; }
    public bool Mandatory { get; set; }
    /// <summary>Set the first time it is released; a firmware that was ever released can no longer be deleted.</summary>
    public DateTime? FirstReleasedAt { get; set; }
    public DateTime UploadedAt { get; set; }
    public string? UploadedById { get; set; }
    public string? UploadedByName { get; set; }
    public DateTime? UpdatedAt { get; set; }
}

/// <summary>The bytes of a <see cref="ProductFirmware"/>, kept apart so listing never loads them.</summary>
public sealed class ProductFirmwareBinary
{
    public int ProductId { get; set; }
    public int Version { get; set; }
    public required byte[] Data { get; set; }
}

/// <summary>A named set of a product's devices that firmware can be released to.</summary>
public sealed class DeviceGroup
{
    public required string Id { get; set; }
    public int ProductId { get; set; }
    /// <summary>Lowercase letters, digits, '-' and '_'; unique within the product.</summary>
    public required string Name { get; set; }
    public string? Description { get; set; }
    public string? Color { get; set; }
    /// <summary>The firmware released to this group, if any.</summary>
    public int? FirmwareVersion { get; set; }
    public DateTime CreatedAt { get; set; }
}

public sealed class DeviceGroupMember
{
    public required string GroupId { get; set; }
    public required string DeviceId { get; set; }
}

/// <summary>A product device's firmware settings (development flag, lock) and the state of its last over-the-air update.</summary>
public sealed class DeviceFirmwareState
{
    public required string DeviceId { get; set; }
    public int ProductId { get; set; }
    public bool Development { get; set; }
    /// <summary>The per-device lock (<c>desired_firmware_version</c>); null when unlocked.</summary>
    public int? DesiredFirmwareVersion { get; set; }
    /// <summary><c>pending</c>, <c>started</c>, <c>success</c> or <c>failed</c>; null when no update was attempted.</summary>
    public string? OtaStatus { get; set; }
    public int? OtaVersion { get; set; }
    public int OtaAttempts { get; set; }
    public string? OtaError { get; set; }
    public DateTime? OtaUpdatedAt { get; set; }
    /// <summary>After a failure: not before this time.</summary>
    public DateTime? OtaRetryAt { get; set; }
}

/// <summary>EF mapping of the firmware, group and OTA tables (migration 5).</summary>
internal static class FirmwareModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ProductFirmware>(e =>
        {
            e.ToTable("product_firmware");
            e.HasKey(f => new { f.ProductId, f.Version });
        });
        modelBuilder.Entity<ProductFirmwareBinary>(e =>
        {
            e.ToTable("product_firmware_binaries");
            e.HasKey(b => new { b.ProductId, b.Version });
            // Relationships without navigations, so one SaveChanges inserts parents first.
            e.HasOne<ProductFirmware>().WithMany().HasForeignKey(b => new { b.ProductId, b.Version });
        });
        modelBuilder.Entity<DeviceGroup>(e =>
        {
            e.ToTable("device_groups");
            e.HasIndex(g => new { g.ProductId, g.Name }).IsUnique();
        });
        modelBuilder.Entity<DeviceGroupMember>(e =>
        {
            e.ToTable("device_group_members");
            e.HasKey(m => new { m.GroupId, m.DeviceId });
            e.HasOne<DeviceGroup>().WithMany().HasForeignKey(m => m.GroupId);
        });
        modelBuilder.Entity<DeviceFirmwareState>(e =>
        {
            e.ToTable("device_firmware_states");
            e.HasKey(s => s.DeviceId);
        });
    }
}
