using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Bulwark.Protocol.Gen2;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Features.Keys;

namespace Bulwark.Server.Gateway;

/// <summary>What a session needs from the host, gathered so a session takes one dependency.</summary>
internal sealed record GatewayServices(
    GatewayOptions Options,
    DeviceStore Store,
    IDeviceConnectionRegistry Registry,
    IEventBus Bus,
    RefusalAuditor Refusals,
    TimeProvider Clock,
    ILogger Logger,
    Ota.OtaScheduler? Ota = null);

/// <summary>The Gen2 TCP listener (device-protocol.md 1): accepts devices, runs the handshake under a deadline, and hands
/// each accepted device to a <see cref="DeviceSession"/>. Whatever one connection does, only that connection is closed.</summary>
public sealed partial class DeviceGateway : BackgroundService
{
    private readonly GatewayOptions _options;
    private readonly Gen2ServerHandshake _handshake;
    private readonly GatewayServices _services;
    private readonly ILogger<DeviceGateway> _logger;
    private readonly TaskCompletionSource<int> _bound = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ConcurrentDictionary<Task, byte> _connections = new();
    private readonly SemaphoreSlim _handshakeSlots;
    private TcpListener? _listener;

    public DeviceGateway(GatewayOptions options, ServerKeyStore keys, DeviceStore store, IDeviceConnectionRegistry registry, IEventBus bus,
        RefusalAuditor refusals, TimeProvider clock, ILogger<DeviceGateway> logger, Ota.OtaScheduler? ota = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(keys);
        _options = options;
        _logger = logger;
        _handshake = new Gen2ServerHandshake(keys.Rsa, TimeSpan.FromSeconds(options.HandshakeTimeoutSeconds), clock);
        _services = new GatewayServices(options, store, registry, bus, refusals, clock, logger, ota);
        _handshakeSlots = new SemaphoreSlim(Math.Max(1, options.MaxPendingHandshakes));
    }

    /// <summary>The TCP port actually bound (useful with <c>TcpPort = 0</c>); completes once listening.</summary>
    public Task<int> TcpPort => _bound.Task;

    public override Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled)
        {
            _bound.TrySetResult(0);
            return Task.CompletedTask;
        }
        // Bind before the host reports started, so a port conflict fails startup and tests know the port at once.
        var address = IPAddress.Parse(_options.TcpHost);
        _listener = new TcpListener(address, _options.TcpPort);
        _listener.Start(backlog: 1024);
        var port = ((IPEndPoint)_listener.LocalEndpoint).Port;
        _bound.TrySetResult(port);
        LogListening(_logger, _options.TcpHost, port);
        return base.StartAsync(cancellationToken);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var listener = _listener!;
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                Socket socket;
                try
                {
                    socket = await listener.AcceptSocketAsync(stoppingToken);
                }
                catch (SocketException e) when (e.SocketErrorCode is SocketError.ConnectionReset or SocketError.ConnectionAborted)
                {
                    continue;
                }
                var task = Task.Run(() => HandleConnectionAsync(socket, stoppingToken), CancellationToken.None);
                _connections.TryAdd(task, 0);
                _ = task.ContinueWith(t => _connections.TryRemove(t, out _), TaskScheduler.Default);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        finally
        {
            listener.Stop();
            await Task.WhenAll(_connections.Keys).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    private async Task HandleConnectionAsync(Socket socket, CancellationToken stoppingToken)
    {
        var remote = (socket.RemoteEndPoint as IPEndPoint)?.Address.ToString();
        socket.NoDelay = true;
        var stream = new NetworkStream(socket, ownsSocket: true);
        if (!_handshakeSlots.Wait(0, CancellationToken.None))
        {
            await stream.DisposeAsync();
            await _services.Refusals.RecordAsync(AuditEventType.DeviceHandshakeRefused, remote, null, "too many handshakes in progress");
            return;
        }
        Gen2ServerHandshakeResult result;
        try
        {
            result = await _handshake.RunAsync(stream, _services.Store.FindKeyAsync, stoppingToken);
        }
        catch (OperationCanceledException)
        {
            await stream.DisposeAsync();
            return;
        }
        catch (Exception e)
        {
            LogHandshakeFailed(_logger, e, remote ?? "-");
            await stream.DisposeAsync();
            return;
        }
        finally
        {
            _handshakeSlots.Release();
        }

        if (!result.Succeeded)
        {
            // Close first, audit after: a refused client should not hold a socket while the audit row is written.
            await stream.DisposeAsync();
            await HandleRefusalAsync(result, remote, stoppingToken);
            return;
        }

        var channel = new Gen2Channel(stream, result.SessionKeys!);
        var session = new DeviceSession(result.DeviceId!.Value.ToString(), remote, channel, _services, stoppingToken);
        try
        {
            await session.RunAsync();
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or SocketException)
        {
        }
        catch (Exception e)
        {
            LogSessionFailed(_logger, e, session.DeviceId);
        }
        finally
        {
            await session.CloseAsync();
        }
    }

    private async Task HandleRefusalAsync(Gen2ServerHandshakeResult result, string? remote, CancellationToken stoppingToken)
    {
        var deviceId = result.DeviceId?.ToString();
        if (result.Refusal == Gen2HandshakeRefusal.UnknownDevice && _options.AllowUnknownDevices && result.PresentedKey is { } presented)
        {
            // Open-cloud mode: remember the key now; the device's next attempt (it retries within seconds) is accepted.
            if (await _services.Store.RegisterUnknownAsync(result.DeviceId!.Value, presented, remote, stoppingToken))
            {
                return;
            }
        }
        var reason = result.Refusal switch
        {
            Gen2HandshakeRefusal.UnknownDevice => "unknown device",
            Gen2HandshakeRefusal.KeyMismatch => "public key does not match the registered key",
            Gen2HandshakeRefusal.BadNonce => "identification did not echo the nonce",
            Gen2HandshakeRefusal.Garbage => "identification did not decrypt under the server key",
            Gen2HandshakeRefusal.Timeout => "handshake not finished in time",
            Gen2HandshakeRefusal.ConnectionClosed => "connection closed during the handshake",
            _ => result.Refusal.ToString(),
        };
        await _services.Refusals.RecordAsync(AuditEventType.DeviceHandshakeRefused, remote, deviceId, reason);
    }

    public override void Dispose()
    {
        _handshakeSlots.Dispose();
        base.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device gateway listening on {Host}:{Port} (Gen2 TCP)")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Error, Message = "Handshake with {Address} failed unexpectedly")]
    private static partial void LogHandshakeFailed(ILogger logger, Exception exception, string address);

    [LoggerMessage(Level = LogLevel.Error, Message = "Session for device {DeviceId} failed unexpectedly")]
    private static partial void LogSessionFailed(ILogger logger, Exception exception, string deviceId);
}

public static class GatewayRegistration
{
    public static IServiceCollection AddDeviceGateway(this IServiceCollection services)
    {
        services.AddSingleton(sp => sp.GetRequiredService<Hosting.BulwarkOptions>().Gateway);
        services.AddSingleton<IDeviceConnectionRegistry, InMemoryDeviceConnectionRegistry>();
        services.AddSingleton<DeviceStore>();
        services.AddSingleton<RefusalAuditor>();
        services.AddSingleton<DeviceGateway>();
        services.AddHostedService(sp => sp.GetRequiredService<DeviceGateway>());
        services.AddSingleton<Udp.UdpDeviceGateway>();
        services.AddHostedService(sp => sp.GetRequiredService<Udp.UdpDeviceGateway>());
        return services;
    }
}
