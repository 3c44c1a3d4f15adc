using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Data;

/// <summary>What a product recorded about a device that is not (or no longer) one of its members: quarantined, denied,
/// removed, or an unrecognized attempt by a Device OS 4+ device. Members are not here: their product is
/// <see cref="Device.CloudProductId"/>. One row per product and device.</summary>
public sealed class ProductDeviceState
{
    public int ProductId { get; set; }
    public required string DeviceId { get; set; }
    /// <summary>One of <see cref="ProductDeviceStates"/>.</summary>
    public required string State { get; set; }
    public string? Reason { get; set; }
    /// <summary>The firmware product ID, platform and Device OS version of its last attempt (for the console).</summary>
    public int? FirmwareProductId { get; set; }
    public int? SystemVersion { get; set; }
    public DateTime UpdatedAt { get; set; }
    public DateTime? LastAttemptAt { get; set; }
}

public static class ProductDeviceStates
{
    public const string Quarantined = "quarantined";
    public const string Denied = "denied";
    public const string Removed = "removed";
    public const string Unrecognized = "unrecognized";
}

internal static class ProductDeviceModel
{
    public static void Configure(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<ProductDeviceState>(e =>
        {
            e.ToTable("product_device_states");
            e.HasKey(s => new { s.ProductId, s.DeviceId });
            e.HasIndex(s => new { s.ProductId, s.State });
            e.HasOne<Product>().WithMany().HasForeignKey(s => s.ProductId);
            e.HasOne<Device>().WithMany().HasForeignKey(s => s.DeviceId);
        });
        modelBuilder.Entity<Device>(e =>
        {
            e.HasIndex(d => d.CloudProductId);
            e.HasIndex(d => d.SerialNumber);
            e.HasOne<Product>().WithMany().HasForeignKey(d => d.CloudProductId).OnDelete(DeleteBehavior.SetNull);
        });
    }
}
