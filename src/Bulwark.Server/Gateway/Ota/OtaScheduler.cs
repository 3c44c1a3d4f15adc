using System.Collections.Concurrent;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Features.Firmware;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Gateway.Ota;

/// <summary>Decides when a connected device gets firmware and runs the transfers: when a device says Hello (which also
/// proves or disproves the previous update), and when an intelligent release changes for online devices. One transfer per
/// device at a time, at most <see cref="OtaOptions.MaxConcurrentTransfers"/> across the server; failures are retried
/// with exponential backoff and recorded on the device.</summary>
public sealed partial class OtaScheduler(
    IServiceScopeFactory scopes,
    IDeviceConnectionRegistry registry,
    IEventBus bus,
    AuditLog audit,
    TimeProvider clock,
    OtaOptions options,
    ILogger<OtaScheduler> logger,
    DeviceProtectionService? protection = null)
{
    private readonly SemaphoreSlim _slots = new(Math.Max(1, options.MaxConcurrentTransfers));
    private readonly ConcurrentDictionary<string, byte> _busy = new(StringComparer.Ordinal);
    // The subset of busy devices that are actually receiving a module (not just being evaluated).
    private readonly ConcurrentDictionary<string, byte> _transferring = new(StringComparer.Ordinal);
    // Evaluations asked for while one was running for the device: it runs once more when it ends.
    private readonly ConcurrentDictionary<string, byte> _again = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<(string, int), DateTime> _refusalAudited = new();
    private int _running;

    /// <summary>Transfers running now.</summary>
    public int RunningTransfers => Volatile.Read(ref _running);

    /// <summary>The device said Hello: settle the previous update, then see whether it needs one.</summary>
    internal void OnHello(IFirmwareUpdateLink link, HelloPayload hello) => _ = Guard(() => OnHelloAsync(link, hello), link.DeviceId);

    /// <summary>The device's system Describe arrived: record its Device Protection report, then see whether it needs the
    /// protected bootloader (or anything else).</summary>
    internal void OnSystemDescribe(IFirmwareUpdateLink link, SystemDescribe describe) => _ = Guard(async () =>
    {
        if (protection is not null)
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            await protection.OnSystemDescribeAsync(db, link.DeviceId, describe, link.Closed);
        }
        await EvaluateAsync(link);
    }, link.DeviceId);

    /// <summary>Re-evaluate every online device of the product (an intelligent release changed).</summary>
    public void RequestProduct(int productId) => _ = Guard(() => RequestProductAsync(productId), "product " + productId);

    /// <summary>Re-evaluate one device now if it is online (its lock, groups or development flag changed).</summary>
    public void RequestDevice(string deviceId)
    {
        if (registry.Find(deviceId) is IFirmwareUpdateLink link)
        {
            _ = Guard(() => EvaluateAsync(link), deviceId);
        }
    }

    /// <summary>Development flashing of one binary to one device now; false when the device is offline or busy with a
    /// transfer. A device whose firmware is merely being evaluated (as happens just after it connects) is waited for
    /// briefly rather than refused.</summary>
    public async Task<bool> TryFlashAsync(string deviceId, byte[] image, string? ownerUserId, CancellationToken cancellationToken)
    {
        var deadline = clock.GetUtcNow() + TimeSpan.FromSeconds(10);
        IFirmwareUpdateLink? link;
        while ((link = registry.Find(deviceId) as IFirmwareUpdateLink) is not null && !_busy.TryAdd(deviceId, 0))
        {
            if (_transferring.ContainsKey(deviceId) || clock.GetUtcNow() > deadline)
            {
                return false;
            }
            await Task.Delay(50, cancellationToken);
        }
        if (link is null)
        {
            return false;
        }
        _ = Guard(async () =>
        {
            try
            {
                await TransferAsync(link, image, productId: null, version: null, ownerUserId);
            }
            finally
            {
                _busy.TryRemove(deviceId, out _);
            }
        }, deviceId);
        return true;
    }

    private async Task OnHelloAsync(IFirmwareUpdateLink link, HelloPayload hello)
    {
        await using (var scope = scopes.CreateAsyncScope())
        {
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            if (protection is not null)
            {
                await protection.OnHelloAsync(db, link.DeviceId, link.Closed);
            }
            var state = await db.DeviceFirmwareStates.FirstOrDefaultAsync(s => s.DeviceId == link.DeviceId, link.Closed);
            // A transfer whose connection ended just as the device rebooted into the new image is recorded as failed;
            // the Hello is the proof that counts, so a Hello with the target version settles it as a success.
            if (state is { OtaStatus: OtaStatus.Applied or OtaStatus.Started or OtaStatus.Failed, OtaVersion: { } expected }
                && (state.OtaStatus != OtaStatus.Failed || hello.ProductFirmwareVersion == expected))
            {
                var owner = await OwnerAsync(db, link.DeviceId, link.Closed);
                if (hello.ProductFirmwareVersion == expected)
                {
                    state.OtaStatus = OtaStatus.Success;
                    state.OtaError = null;
                    state.OtaAttempts = 0;
                    state.OtaRetryAt = null;
                    state.OtaUpdatedAt = clock.GetUtcNow().UtcDateTime;
                    await audit.RecordAsync(db, AuditEventType.OtaSucceeded, new AuditActor(null, "gateway", null), link.DeviceId,
                        $"now runs product firmware {expected}", link.Closed);
                    Publish(link.DeviceId, owner, OtaStatus.Success);
                }
                else if (state.OtaStatus == OtaStatus.Applied)
                {
                    await RecordFailureAsync(db, state, $"The device came back with version {hello.ProductFirmwareVersion}, not {expected}", link.Closed);
                    Publish(link.DeviceId, owner, OtaStatus.Failed);
                }
            }
        }
        await EvaluateAsync(link);
    }

    private async Task RequestProductAsync(int productId)
    {
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var fleet = scope.ServiceProvider.GetRequiredService<IProductFleet>();
        var ids = await fleet.Members(db, productId).Select(d => d.Id).ToListAsync();
        foreach (var id in ids)
        {
            RequestDevice(id);
        }
    }

    private async Task EvaluateAsync(IFirmwareUpdateLink link)
    {
        var deviceId = link.DeviceId;
        if (!_busy.TryAdd(deviceId, 0))
        {
            _again.TryAdd(deviceId, 0);
            return;
        }
        _again.TryRemove(deviceId, out _);
        TimeSpan? retryIn = null;
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            var fleet = scope.ServiceProvider.GetRequiredService<IProductFleet>();
            var device = await db.Devices.AsNoTracking().Where(d => d.Id == deviceId)
                .Select(d => new { d.ProductId, d.OwnerUserId }).FirstOrDefaultAsync(link.Closed);
            if (device?.ProductId is not { } productId || !await db.Products.AnyAsync(p => p.Id == productId, link.Closed))
            {
                return;
            }
            var facts = await FirmwareFacts.DevicesAsync(db, fleet, productId, [deviceId], link.Closed);
            if (!facts.TryGetValue(deviceId, out var fact))
            {
                return;
            }
            var decision = FirmwareUpdatePolicy.Decide(fact, await FirmwareFacts.ReleasesAsync(db, productId, link.Closed));
            if (!decision.ShouldFlash || decision.TargetVersion is not { } version)
            {
                await SendProtectedBootloaderAsync(link, db, device.OwnerUserId);
                return;
            }
            // Device Protection's flash policy holds for fleet releases and locks too.
            if (protection is not null && await RefusedByProtectionAsync(db, deviceId, productId, version, link.Closed))
            {
                return;
            }
            var state = await db.DeviceFirmwareStates.AsNoTracking().FirstOrDefaultAsync(s => s.DeviceId == deviceId, link.Closed);
            var now = clock.GetUtcNow().UtcDateTime;
            if (state?.OtaRetryAt is { } retryAt && retryAt > now)
            {
                retryIn = retryAt - now;
                return;
            }
            // The device has this image and is rebooting into it; its next Hello settles the update. A Gen3 device's
            // session outlives that reboot (it restores its DTLS session), so without this the image would go out again.
            if (state is { OtaStatus: OtaStatus.Applied } && state.OtaVersion == version)
            {
                return;
            }
            // Product admission decides who may receive the product's firmware (quarantined and denied devices may not).
            if (!await fleet.MayReceiveProductFirmwareAsync(db, deviceId, productId, link.Closed))
            {
                return;
            }
            var image = await db.ProductFirmwareBinaries.AsNoTracking().Where(b => b.ProductId == productId && b.Version == version)
                .Select(b => b.Data).FirstOrDefaultAsync(link.Closed);
            if (image is not null)
            {
                await TransferAsync(link, image, productId, version, device.OwnerUserId);
            }
        }
        finally
        {
            _busy.TryRemove(deviceId, out _);
        }
        if (_again.TryRemove(deviceId, out _) && registry.Find(deviceId) is IFirmwareUpdateLink current)
        {
            _ = Guard(() => EvaluateAsync(current), deviceId);
        }
        if (retryIn is { } delay)
        {
            RetryLater(link, delay);
        }
    }

    private async Task<bool> RefusedByProtectionAsync(BulwarkDbContext db, string deviceId, int productId, int version, CancellationToken cancellationToken)
    {
        var status = await protection!.RefreshAsync(db, deviceId, cancellationToken);
        var firmware = await db.ProductFirmware.AsNoTracking().Where(f => f.ProductId == productId && f.Version == version)
            .Select(f => new { f.RequiredSystemVersion, f.IsProtected }).FirstOrDefaultAsync(cancellationToken);
        var kind = firmware is not null && FlashPolicy.IsProtectedCapable(firmware.RequiredSystemVersion, firmware.IsProtected)
            ? FirmwareKind.ProtectedProductFirmware
            : FirmwareKind.UnprotectedProductFirmware;
        var verdict = FlashPolicy.Decide(status, kind, FlashRequester.Cloud);
        if (verdict.Allowed)
        {
            return false;
        }
        // One audit event per device and version an hour, not one per reconnect.
        var now = clock.GetUtcNow().UtcDateTime;
        if (!_refusalAudited.TryGetValue((deviceId, version), out var last) || now - last > TimeSpan.FromHours(1))
        {
            _refusalAudited[(deviceId, version)] = now;
            await audit.RecordAsync(db, AuditEventType.FlashRefusedByProtection, new AuditActor(null, "gateway", null), deviceId,
                $"product firmware {version} not sent ({verdict.Code}): {verdict.Reason}", cancellationToken);
        }
        return true;
    }

    private async Task SendProtectedBootloaderAsync(IFirmwareUpdateLink link, BulwarkDbContext db, string? ownerUserId)
    {
        if (protection is null || await protection.ProtectedBootloaderAsync(db, link.DeviceId, link.Closed) is not { } bootloader)
        {
            return;
        }
        await protection.RecordBootloaderSentAsync(db, link.DeviceId, bootloader.Version, link.Closed);
        await TransferAsync(link, bootloader.Image, productId: null, version: null, ownerUserId);
    }

    /// <summary>Tries again after the backoff if the same connection is still up; a reconnect re-evaluates by itself.</summary>
    private void RetryLater(IFirmwareUpdateLink link, TimeSpan delay) => _ = Guard(async () =>
    {
        await Task.Delay(delay, clock, CancellationToken.None);
        // The device may have reconnected meanwhile (its Hello found this device busy): retry on whichever connection is current.
        if (registry.Find(link.DeviceId) is IFirmwareUpdateLink current)
        {
            await EvaluateAsync(current);
        }
    }, link.DeviceId);

    private async Task TransferAsync(IFirmwareUpdateLink link, byte[] image, int? productId, int? version, string? ownerUserId)
    {
        _transferring[link.DeviceId] = 0;
        try
        {
            await TransferCoreAsync(link, image, productId, version, ownerUserId);
        }
        finally
        {
            _transferring.TryRemove(link.DeviceId, out _);
        }
    }

    private async Task TransferCoreAsync(IFirmwareUpdateLink link, byte[] image, int? productId, int? version, string? ownerUserId)
    {
        await _slots.WaitAsync(link.Closed);
        Interlocked.Increment(ref _running);
        TransferResult result;
        try
        {
            await SetStateAsync(link.DeviceId, productId, version, s =>
            {
                s.OtaStatus = OtaStatus.Started;
                s.OtaError = null;
            });
            Publish(link.DeviceId, ownerUserId, OtaStatus.Started);
            LogStarted(logger, link.DeviceId, version ?? 0, image.Length);
            try
            {
                result = await FirmwareTransfer.For(link, options).SendAsync(image, link.Closed);
            }
            catch (Exception e) when (e is DeviceRequestException or OperationCanceledException or IOException or ObjectDisposedException)
            {
                result = TransferResult.Failed("The connection ended during the update: " + e.Message);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _running);
            _slots.Release();
        }

        if (result.Succeeded)
        {
            LogFinished(logger, link.DeviceId, result.ChunksSent, result.ChunksResent);
        }
        else
        {
            LogFailed(logger, link.DeviceId, result.Error ?? "");
        }
        if (productId is null)
        {
            Publish(link.DeviceId, ownerUserId, result.Succeeded ? OtaStatus.Success : OtaStatus.Failed);
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        // The device applies the image and says Hello as soon as it has the end of the transfer; a Gen3 device that
        // restores its DTLS session does so without a handshake, often before the transfer's own end is written here. That
        // Hello is the proof that counts, and it has settled the update already: only an update still "started" is changed.
        var started = db.DeviceFirmwareStates.Where(s => s.DeviceId == link.DeviceId && s.OtaStatus == OtaStatus.Started && s.OtaVersion == version);
        if (result.Succeeded)
        {
            // Success is announced when the next Hello carries the new version; until then the update is "applied".
            var now = clock.GetUtcNow().UtcDateTime;
            await started.ExecuteUpdateAsync(u => u.SetProperty(s => s.OtaStatus, OtaStatus.Applied).SetProperty(s => s.OtaUpdatedAt, now), CancellationToken.None);
            return;
        }
        if (await started.FirstOrDefaultAsync(CancellationToken.None) is not { } state)
        {
            return;
        }
        Publish(link.DeviceId, ownerUserId, OtaStatus.Failed);
        await RecordFailureAsync(db, state, result.Error ?? "failed", CancellationToken.None);
        RetryLater(link, options.RetryDelay(state.OtaAttempts));
    }

    private async Task RecordFailureAsync(BulwarkDbContext db, DeviceFirmwareState state, string error, CancellationToken cancellationToken)
    {
        var now = clock.GetUtcNow().UtcDateTime;
        state.OtaStatus = OtaStatus.Failed;
        state.OtaError = error.Length > 500 ? error[..500] : error;
        state.OtaAttempts++;
        state.OtaUpdatedAt = now;
        state.OtaRetryAt = now + options.RetryDelay(state.OtaAttempts);
        await audit.RecordAsync(db, AuditEventType.OtaFailed, new AuditActor(null, "gateway", null), state.DeviceId,
            $"version {state.OtaVersion}, attempt {state.OtaAttempts}: {state.OtaError}", cancellationToken);
    }

    private async Task SetStateAsync(string deviceId, int? productId, int? version, Action<DeviceFirmwareState> change)
    {
        if (productId is not { } product)
        {
            return;
        }
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var state = await db.DeviceFirmwareStates.FirstOrDefaultAsync(s => s.DeviceId == deviceId, CancellationToken.None);
        if (state is null)
        {
            state = new DeviceFirmwareState { DeviceId = deviceId, ProductId = product };
            db.DeviceFirmwareStates.Add(state);
        }
        state.OtaVersion = version;
        state.OtaUpdatedAt = clock.GetUtcNow().UtcDateTime;
        change(state);
        await db.SaveChangesAsync(CancellationToken.None);
    }

    private static Task<string?> OwnerAsync(BulwarkDbContext db, string deviceId, CancellationToken cancellationToken) =>
        db.Devices.AsNoTracking().Where(d => d.Id == deviceId).Select(d => d.OwnerUserId).FirstOrDefaultAsync(cancellationToken);

    private void Publish(string deviceId, string? ownerUserId, string status) =>
        bus.Publish(new CloudEvent(DeviceEventDelivery.FlashStatusEvent, status, 60, clock.GetUtcNow().UtcDateTime, deviceId, ownerUserId) { DeviceId = null });

    private async Task Guard(Func<Task> work, string subject)
    {
        try
        {
            await Task.Yield();
            await work();
        }
        catch (Exception e) when (e is OperationCanceledException or DeviceRequestException or ObjectDisposedException)
        {
        }
        catch (Exception e)
        {
            LogUnexpected(logger, e, subject);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "OTA to {DeviceId}: sending version {Version} ({Bytes} bytes)")]
    private static partial void LogStarted(ILogger logger, string deviceId, int version, int bytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "OTA to {DeviceId}: image accepted ({Sent} chunks, {Resent} resent)")]
    private static partial void LogFinished(ILogger logger, string deviceId, int sent, int resent);

    [LoggerMessage(Level = LogLevel.Warning, Message = "OTA to {DeviceId} failed: {Error}")]
    private static partial void LogFailed(ILogger logger, string deviceId, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "OTA work for {Subject} failed unexpectedly")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string subject);
}

/// <summary>The states of <see cref="DeviceFirmwareState.OtaStatus"/>; started, success and failed are also the
/// <c>spark/flash/status</c> event data.</summary>
public static class OtaStatus
{
    public const string Started = "started";
    /// <summary>The device accepted the image; its next Hello must carry the new version.</summary>
    public const string Applied = "applied";
    public const string Success = "success";
    public const string Failed = "failed";
}

public static class OtaRegistration
{
    public static IServiceCollection AddOtaDelivery(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<IConfiguration>().GetSection(OtaOptions.Section).Get<OtaOptions>() ?? new OtaOptions());
        services.AddSingleton<OtaScheduler>();
        return services;
    }
}
