using System.Text;
using Microsoft.EntityFrameworkCore;
using Microsoft.EntityFrameworkCore.Storage.ValueConversion;

namespace Bulwark.Server.Data;

/// <summary>One model for both providers. The schema itself comes from the hand-written migrations in
/// <see cref="Migrations.SchemaMigrations"/>; names here are snake_case to match them.</summary>
public sealed class BulwarkDbContext(DbContextOptions<BulwarkDbContext> options) : DbContext(options)
{
    public DbSet<User> Users => Set<User>();
    public DbSet<AccessToken> AccessTokens => Set<AccessToken>();
    public DbSet<RecoveryCode> RecoveryCodes => Set<RecoveryCode>();
    public DbSet<MfaTicket> MfaTickets => Set<MfaTicket>();
    public DbSet<AuditEvent> AuditEvents => Set<AuditEvent>();
    public DbSet<Organization> Organizations => Set<Organization>();
    public DbSet<Product> Products => Set<Product>();
    public DbSet<TeamMember> TeamMembers => Set<TeamMember>();
    public DbSet<Device> Devices => Set<Device>();
    public DbSet<ProductDeviceState> ProductDeviceStates => Set<ProductDeviceState>();
    public DbSet<ProductFirmware> ProductFirmware => Set<ProductFirmware>();
    public DbSet<ProductFirmwareBinary> ProductFirmwareBinaries => Set<ProductFirmwareBinary>();
    public DbSet<DeviceGroup> DeviceGroups => Set<DeviceGroup>();
    public DbSet<DeviceGroupMember> DeviceGroupMembers => Set<DeviceGroupMember>();
    public DbSet<DeviceFirmwareState> DeviceFirmwareStates => Set<DeviceFirmwareState>();

    protected override void ConfigureConventions(ModelConfigurationBuilder configurationBuilder)
    {
        // SQLite hands back DateTimeKind.Unspecified and Npgsql refuses non-UTC values: pin every time to UTC.
        configurationBuilder.Properties<DateTime>().HaveConversion<UtcDateTimeConverter>();
        configurationBuilder.Properties<DateTime?>().HaveConversion<NullableUtcDateTimeConverter>();
    }

    protected override void OnModelCreating(ModelBuilder modelBuilder)
    {
        modelBuilder.Entity<User>(e =>
        {
            e.ToTable("users");
            e.HasIndex(u => u.NormalizedUsername).IsUnique();
        });
        modelBuilder.Entity<AccessToken>(e =>
        {
            e.ToTable("access_tokens");
            e.HasIndex(t => t.TokenHash).IsUnique();
        });
        modelBuilder.Entity<RecoveryCode>().ToTable("recovery_codes");
        modelBuilder.Entity<MfaTicket>(e =>
        {
            e.ToTable("mfa_tickets");
            e.HasIndex(t => t.TicketHash).IsUnique();
        });
        modelBuilder.Entity<AuditEvent>(e =>
        {
            e.ToTable("audit_events");
            e.Property(a => a.Id).ValueGeneratedOnAdd();
        });
        modelBuilder.Entity<Organization>(e =>
        {
            e.ToTable("organizations");
            e.HasIndex(o => o.Slug).IsUnique();
        });
        modelBuilder.Entity<Product>(e =>
        {
            e.ToTable("products");
            e.Property(p => p.Id).ValueGeneratedNever();
            e.HasIndex(p => p.Slug).IsUnique();
        });
        modelBuilder.Entity<TeamMember>(e =>
        {
            e.ToTable("team_members");
            // Relationships without navigations, so one SaveChanges inserts rows in foreign-key order.
            e.HasOne<User>().WithMany().HasForeignKey(m => m.UserId);
            e.HasOne<Product>().WithMany().HasForeignKey(m => m.ProductId);
            e.HasOne<Organization>().WithMany().HasForeignKey(m => m.OrganizationId);
        });
        modelBuilder.Entity<Product>().HasOne<Organization>().WithMany().HasForeignKey(p => p.OrganizationId);
        modelBuilder.Entity<Product>().HasOne<User>().WithMany().HasForeignKey(p => p.OwnerUserId).OnDelete(DeleteBehavior.SetNull);
        modelBuilder.Entity<AccessToken>().HasOne<User>().WithMany().HasForeignKey(t => t.UserId);
        modelBuilder.Entity<Device>(e =>
        {
            e.ToTable("devices");
            e.Property(d => d.Id).ValueGeneratedNever();
            e.HasIndex(d => d.OwnerUserId);
        });
        ProductDeviceModel.Configure(modelBuilder);
        FirmwareModel.Configure(modelBuilder);
        DeviceProtectionModel.Configure(modelBuilder);

        foreach (var entity in modelBuilder.Model.GetEntityTypes())
        {
            foreach (var property in entity.GetProperties())
            {
                property.SetColumnName(ToSnakeCase(property.Name));
            }
        }
    }

    internal static string ToSnakeCase(string name)
    {
        var builder = new StringBuilder(name.Length + 8);
        for (var i = 0; i < name.Length; i++)
        {
            var c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    builder.Append('_');
                }
                builder.Append(char.ToLowerInvariant(c));
            }
            else
            {
                builder.Append(c);
            }
        }
        return builder.ToString();
    }

    private sealed class UtcDateTimeConverter() : ValueConverter<DateTime, DateTime>(
        v => v.Kind == DateTimeKind.Utc ? v : v.ToUniversalTime(),
        v => DateTime.SpecifyKind(v, DateTimeKind.Utc));

    private sealed class NullableUtcDateTimeConverter() : ValueConverter<DateTime?, DateTime?>(
        v => v.HasValue ? (v.Value.Kind == DateTimeKind.Utc ? v : v.Value.ToUniversalTime()) : v,
        v => v.HasValue ? DateTime.SpecifyKind(v.Value, DateTimeKind.Utc) : v);
}
