using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Data;

/// <summary>A product with Device Protection on. There is no way to remove the row: once on, protection stays on.</summary>
public sealed class ProductProtection
{
    public int ProductId { get; set; }
    public DateTime EnabledAt { get; set; }
    public string? EnabledById { get; set; }
    public string? EnabledByName { get; set; }
}

/// <summary>What the cloud knows about one device's protection beyond <see cref="Device.DeviceProtectionStatus"/>.</summary>
public sealed class DeviceProtectionRecord
{
    public required string DeviceId { get; set; }
    /// <summary>From the last system Describe: protected_state, or a bootloader with SECURITY_MODE = protected. Null: never reported.</summary>
    public bool? ReportedProtected { get; set; }
    public DateTime? ReportedAt { get; set; }
    /// <summary>When the cloud last sent the protected bootloader, and which bootloader version.</summary>
    public DateTime? BootloaderSentAt { get; set; }
    public int? BootloaderSentVersion { get; set; }
    /// <summary>Service Mode granted at (null: not in Service Mode).</summary>
    public DateTime? ServiceModeStartedAt { get; set; }
    /// <summary>Resets (new connections) seen since Service Mode was granted.</summary>
    public int ServiceModeResets { get; set; }
    public DateTime UpdatedAt { get; set; }
}

/// <summary>A Device OS module binary the operator imported into the catalogue (bootloaders for Device Protection).</summary>
public sealed class DeviceOsModule
{
    public required string Id { get; set; }
    public int PlatformId { get; set; }
    public int Function { get; set; }
    public int ModuleIndex { get; set; }
    public int Version { get; set; }
    /// <summary>Hex SHA-256 of the file.</summary>
    public required string Sha256 { get; set; }
    public int Size { get; set; }
    public required byte[] Data { get; set; }
    public DateTime UploadedAt { get; set; }
    public string? UploadedByName { get; set; }
}

internal static class DeviceProtectionModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ProductProtection>(e =>
        {
            e.ToTable("product_protection");
            e.HasKey(p => p.ProductId);
            e.Property(p => p.ProductId).ValueGeneratedNever();
            e.HasOne<Product>().WithMany().HasForeignKey(p => p.ProductId);
        });
        modelBuilder.Entity<DeviceProtectionRecord>(e =>
        {
            e.ToTable("device_protection");
            e.HasKey(p => p.DeviceId);
            e.HasOne<Device>().WithMany().HasForeignKey(p => p.DeviceId);
        });
        modelBuilder.Entity<DeviceOsModule>(e =>
        {
            e.ToTable("device_os_modules");
            e.HasKey(m => m.Id);
            e.HasIndex(m => new { m.PlatformId, m.Function, m.ModuleIndex, m.Version }).IsUnique();
        });
    }
}
