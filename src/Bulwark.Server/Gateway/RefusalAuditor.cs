using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;

namespace Bulwark.Server.Gateway;

/// <summary>Audits refused device connections without letting a flood fill the audit log: each address gets a few
/// rows per minute (and all addresses together a bounded number); the rest are counted and summarised in one row.</summary>
public sealed partial class RefusalAuditor(IServiceScopeFactory scopes, AuditLog audit, GatewayOptions options, TimeProvider clock,
    ILogger<RefusalAuditor> logger)
{
    private const int GlobalRowsPerMinute = 600;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, int> _perAddress = new(StringComparer.Ordinal);
    private long _windowMinute = -1;
    private int _globalRows;
    private int _suppressed;

    public async Task RecordAsync(AuditEventType type, string? ipAddress, string? deviceId, string details)
    {
        LogRefusal(logger, type, deviceId ?? "-", ipAddress ?? "-", details);
        int suppressedInLastWindow;
        bool write;
        lock (_lock)
        {
            var minute = clock.GetUtcNow().ToUnixTimeSeconds() / 60;
            suppressedInLastWindow = 0;
            if (minute != _windowMinute)
            {
                suppressedInLastWindow = _suppressed;
                _suppressed = 0;
                _globalRows = 0;
                _perAddress.Clear();
                _windowMinute = minute;
            }
            var key = ipAddress ?? "";
            _perAddress.TryGetValue(key, out var count);
            write = count < options.RefusalAuditsPerAddressPerMinute && _globalRows < GlobalRowsPerMinute;
            if (write)
            {
                _perAddress[key] = count + 1;
                _globalRows++;
            }
            else
            {
                _suppressed++;
            }
        }
        try
        {
            await using var scope = scopes.CreateAsyncScope();
            var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
            var actor = new AuditActor(null, "gateway", ipAddress);
            if (suppressedInLastWindow > 0)
            {
                await audit.RecordAsync(db, AuditEventType.DeviceRefusalsSuppressed, new AuditActor(null, "gateway", null), null,
                    $"{suppressedInLastWindow} further refusals in the previous minute were not recorded individually");
            }
            if (write)
            {
                await audit.RecordAsync(db, type, actor, deviceId, details);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogAuditFailed(logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Device connection refused: {Type} device {DeviceId} from {Address}: {Details}")]
    private static partial void LogRefusal(ILogger logger, AuditEventType type, string deviceId, string address, string details);

    [LoggerMessage(Level = LogLevel.Error, Message = "Could not write a device refusal to the audit log")]
    private static partial void LogAuditFailed(ILogger logger, Exception exception);
}
