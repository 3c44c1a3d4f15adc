using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Products;
using Bulwark.Server.Features.Teams;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Admission;

/// <summary>Applies <see cref="AdmissionDecision"/> at every connection: gathers its inputs from the database, stores
/// the result on the device (privileges, membership when auto-approved) and in the product's lists (quarantine,
/// denied, unrecognized attempts), audits it, and updates <see cref="ProductPrivileges"/>.</summary>
public sealed partial class DeviceAdmission(IServiceScopeFactory scopes, ProductPrivileges privileges, AuditLog audit, TimeProvider clock,
    ILogger<DeviceAdmission> logger)
{
    public IProductPrivileges Privileges => privileges;

    public async Task<AdmissionResult> AdmitAsync(string deviceId, HelloPayload hello, string? ipAddress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(hello);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var device = await db.Devices.FirstOrDefaultAsync(d => d.Id == deviceId, cancellationToken);
        if (device is null)
        {
            privileges.Set(deviceId, null);
            return new AdmissionResult(AdmissionOutcome.NotAProductDevice, null, "unknown device");
        }
        // A product ID equal to the platform ID is Device OS saying "no product".
        Product? reported = null;
        if (hello.ProductId != hello.PlatformId)
        {
            var reportedId = (int)hello.ProductId;
            reported = await db.Products.AsNoTracking().FirstOrDefaultAsync(p => p.Id == reportedId, cancellationToken);
        }
        var ownership = DeviceOwnership.Unowned;
        var history = ProductHistory.None;
        ProductDeviceState? state = null;
        if (reported is not null)
        {
            if (device.OwnerUserId is { } owner)
            {
                ownership = await IsTeamMemberAsync(db, reported, owner, cancellationToken) ? DeviceOwnership.TeamMember : DeviceOwnership.Stranger;
            }
            state = await db.ProductDeviceStates.FirstOrDefaultAsync(s => s.ProductId == reported.Id && s.DeviceId == deviceId, cancellationToken);
            history = state?.State switch
            {
                ProductDeviceStates.Quarantined => ProductHistory.Quarantined,
                ProductDeviceStates.Removed => ProductHistory.Removed,
                ProductDeviceStates.Denied => ProductHistory.Denied,
                _ => ProductHistory.None,
            };
        }
        var input = new AdmissionInput(reported?.Id, device.CloudProductId,
            reported?.UnrecognizedDevicePolicy == UnrecognizedDevicePolicy.AutoApprove ? UnrecognizedDevicePolicyKind.AutoApprove : UnrecognizedDevicePolicyKind.Quarantine,
            reported is not null && reported.PlatformId == hello.PlatformId, ownership, history, hello.SystemVersion);
        var result = AdmissionDecision.Decide(input);

        var now = clock.GetUtcNow().UtcDateTime;
        var previousPrivileges = device.ProductPrivileges;
        var previousProduct = device.CloudProductId;
        device.ProductPrivileges = result.StoredPrivileges;
        switch (result.Outcome)
        {
            case AdmissionOutcome.AutoApproved:
                device.CloudProductId = result.ProductId;
                if (state is not null)
                {
                    db.ProductDeviceStates.Remove(state);
                }
                break;
            case AdmissionOutcome.Quarantined or AdmissionOutcome.Denied or AdmissionOutcome.UnrecognizedAttempt:
                if (state is null)
                {
                    state = new ProductDeviceState { ProductId = result.ProductId!.Value, DeviceId = deviceId, State = "" };
                    db.ProductDeviceStates.Add(state);
                }
                state.State = result.Outcome switch
                {
                    AdmissionOutcome.Quarantined => ProductDeviceStates.Quarantined,
                    AdmissionOutcome.Denied => ProductDeviceStates.Denied,
                    _ => ProductDeviceStates.Unrecognized,
                };
                state.Reason = result.Reason;
                state.FirmwareProductId = hello.ProductId;
                state.SystemVersion = hello.SystemVersion;
                state.LastAttemptAt = now;
                state.UpdatedAt = now;
                break;
        }
        // Every refusal is worth a line; a member reconnecting with the privileges it already had is not.
        var routine = result.Outcome == AdmissionOutcome.NotAProductDevice
            || (result.Outcome == AdmissionOutcome.Full && previousPrivileges == ProductPrivilegeLevel.Full && previousProduct == device.CloudProductId);
        if (routine)
        {
            await db.SaveChangesAsync(cancellationToken);
        }
        else
        {
            await audit.RecordAsync(db, AuditTypeOf(result.Outcome), new AuditActor(null, "gateway", ipAddress),
                ProductAccess.ProductSubject(result.ProductId!.Value), $"device {deviceId}: {result.Reason}", cancellationToken);
        }
        privileges.Set(deviceId, result.HasFullPrivileges ? device.CloudProductId : null);
        if (result.Outcome is not (AdmissionOutcome.NotAProductDevice or AdmissionOutcome.Full))
        {
            LogDecision(logger, deviceId, result.Outcome, result.ProductId ?? 0);
        }
        return result;
    }

    /// <summary>Re-decides a device's privileges after its membership changed through the API (approve, remove, deny),
    /// from what its last Hello said, without waiting for it to reconnect. The caller saves.</summary>
    public static string? PrivilegesAfterMembershipChange(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        if (device.CloudProductId is not { } cloud)
        {
            return device.SystemVersion is null ? null : ProductPrivilegeLevel.None;
        }
        if (device.SystemVersion is null && device.ProductId is null)
        {
            return null; // Never connected: decided at its first Hello.
        }
        var reported = device.ProductId is { } p && p != device.PlatformId ? p : (int?)null;
        var result = AdmissionDecision.Decide(new AdmissionInput(reported, cloud, UnrecognizedDevicePolicyKind.Quarantine, true,
            DeviceOwnership.Unowned, ProductHistory.None, device.SystemVersion));
        return result.StoredPrivileges;
    }

    /// <summary>Withdraws the device's privileges from memory (fail closed when a decision could not be made).</summary>
    public void Revoke(string deviceId) => privileges.Set(deviceId, null);

    /// <summary>Updates memory after an API change has been saved.</summary>
    public void Refresh(Device device)
    {
        ArgumentNullException.ThrowIfNull(device);
        privileges.Set(device.Id, device.ProductPrivileges == ProductPrivilegeLevel.Full ? device.CloudProductId : null);
    }

    internal static async Task<bool> IsTeamMemberAsync(BulwarkDbContext db, Product product, string userId, CancellationToken cancellationToken)
    {
        if (product.OwnerUserId == userId)
        {
            return true;
        }
        var orgId = product.OrganizationId;
        return await db.TeamMembers.AsNoTracking().AnyAsync(m => m.UserId == userId
            && (m.ProductId == product.Id || (orgId != null && m.OrganizationId == orgId)), cancellationToken);
    }

    private static AuditEventType AuditTypeOf(AdmissionOutcome outcome) => outcome switch
    {
        AdmissionOutcome.Full => AuditEventType.AdmissionFull,
        AdmissionOutcome.AutoApproved => AuditEventType.AdmissionAutoApproved,
        AdmissionOutcome.Limited => AuditEventType.AdmissionLimited,
        AdmissionOutcome.Quarantined => AuditEventType.AdmissionQuarantined,
        AdmissionOutcome.Denied => AuditEventType.AdmissionDenied,
        _ => AuditEventType.AdmissionUnrecognizedAttempt,
    };

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} admission: {Outcome} for product {ProductId}")]
    private static partial void LogDecision(ILogger logger, string deviceId, AdmissionOutcome outcome, int productId);
}
