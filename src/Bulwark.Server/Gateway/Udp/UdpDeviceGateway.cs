using System.Net;
using System.Security.Cryptography;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Dtls;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Features.Keys;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Gateway.Udp;

/// <summary>
/// The Gen3 UDP/DTLS listener (device-protocol.md 2), on when <c>Bulwark:Gateway:UdpEnabled</c>. DTLS is
/// <see cref="DtlsServer"/>: it completes handshakes against each device's registered EC key and keeps sessions by CID
/// across address changes. On each established session this runs the same <see cref="DeviceSession"/> as the TCP
/// gateway, over a <see cref="CoapDatagramChannel"/> (CoAP retransmission and de-duplication).
/// </summary>
/// <remarks>
/// A UDP "connection" has no socket to close. The CoAP session lives from the device's Hello (or, for a device that
/// restored a saved session, its first message) until it says Goodbye, goes silent past its keep-alive, or is
/// replaced; the DTLS session outlives it, so the device can come back without a handshake.
/// </remarks>
public sealed partial class UdpDeviceGateway : IHostedService, IAsyncDisposable
{
    private readonly GatewayOptions _options;
    private readonly ServerKeyStore _keys;
    private readonly IServiceScopeFactory _scopes;
    private readonly TimeProvider _clock;
    private readonly ILogger<UdpDeviceGateway> _logger;
    private readonly GatewayServices _services;
    private readonly CancellationTokenSource _stopping = new();
    private DtlsServer? _server;

    public UdpDeviceGateway(GatewayOptions options, ServerKeyStore keys, IServiceScopeFactory scopes, DeviceStore store,
        IDeviceConnectionRegistry registry, IEventBus bus, RefusalAuditor refusals, TimeProvider clock, ILogger<UdpDeviceGateway> logger,
        Ota.OtaScheduler? ota = null)
    {
        _options = options;
        _keys = keys;
        _scopes = scopes;
        _clock = clock;
        _logger = logger;
        _services = new GatewayServices(options, store, registry, bus, refusals, clock, logger, ota);
    }

    /// <summary>The DTLS server once started (null when UDP is off); the bound port is on <see cref="DtlsServer.LocalEndPoint"/>.</summary>
    public DtlsServer? Server => _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!_options.Enabled || !_options.UdpEnabled)
        {
            return Task.CompletedTask;
        }

        var server = new DtlsServer(
            new DtlsHashSigner(hash => _keys.SignEcHash(hash)),
            FindKeyAsync,
            new DtlsServerOptions { EndPoint = new IPEndPoint(IPAddress.Parse(_options.UdpHost), _options.UdpPort) },
            _clock);
        server.OnSessionEstablished = session => LogEstablished(_logger, session.RegisteredKey?.DeviceId ?? "-");
        server.OnApplicationData = (session, payload) =>
        {
            OnDatagram(session, payload);
            return ValueTask.CompletedTask;
        };
        server.OnSessionClosed = session => (session.Tag as UdpDeviceLink)?.Close();
        // Bind before the host reports started, as the TCP gateway does, so a port conflict fails startup.
        server.Start();
        _server = server;
        LogListening(_logger, _options.UdpHost, server.LocalEndPoint.Port);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            _server = null;
            await _stopping.CancelAsync();
            await server.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    /// <summary>Routes one decrypted datagram to the device's CoAP session, starting one when none is running.</summary>
    private void OnDatagram(DtlsSession dtls, ReadOnlyMemory<byte> payload)
    {
        if (dtls.RegisteredKey?.DeviceId is not { } deviceId || _server is not { } server)
        {
            return;
        }
        var link = dtls.Tag as UdpDeviceLink;
        if (link is null)
        {
            link = new UdpDeviceLink(deviceId, dtls);
            dtls.Tag = link;
        }
        var channel = link.CurrentChannel ?? StartSession(server, link, payload);
        channel.Deliver(payload);
    }

    private CoapDatagramChannel StartSession(DtlsServer server, UdpDeviceLink link, ReadOnlyMemory<byte> first)
    {
        var dtls = link.Dtls;
        var channel = new CoapDatagramChannel(
            (datagram, token) => server.SendAsync(dtls, datagram, token),
            (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue + 1));
        var remote = dtls.RemoteEndPoint.Address.ToString();
        var session = new DeviceSession(link.DeviceId, remote, channel, _services, _stopping.Token);
        link.Begin(channel, session);

        // Device OS that restored its session skips the Hello when nothing changed and sends a ping or anything else
        // first (device-protocol.md 2.1): carry on with the Hello it sent on this session before.
        var resumedHello = IsHello(first) ? null : link.LastHello;
        var renew = resumedHello is not null
            && _clock.GetUtcNow() - dtls.CreatedAt > TimeSpan.FromHours(_options.UdpSessionMaxAgeHours);
        _ = Task.Run(() => RunSessionAsync(server, link, channel, session, resumedHello, renew));
        return channel;
    }

    private async Task RunSessionAsync(DtlsServer server, UdpDeviceLink link, CoapDatagramChannel channel, DeviceSession session,
        HelloPayload? resumedHello, bool renew)
    {
        try
        {
            if (renew)
            {
                // The session's keys are old: KeyChange with "discard session" makes the device forget it and make a
                // full handshake at once; its next records under this CID would not be understood anyway.
                await channel.SendAsync(ParticleMessages.KeyChange(channel.NextMessageId(), 1), _stopping.Token);
                LogRenewed(_logger, link.DeviceId);
                server.Remove(link.Dtls);
                return;
            }
            await session.RunAsync(resumedHello);
            link.LastHello = session.Hello ?? link.LastHello;
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }
        catch (Exception e)
        {
            LogSessionFailed(_logger, e, link.DeviceId);
        }
        finally
        {
            await session.CloseAsync();
            link.End(channel);
        }
    }

    private static bool IsHello(ReadOnlyMemory<byte> datagram) =>
        CoapMessage.TryDecode(datagram, out var message, out _) && ParticleMessageClassifier.Classify(message) == ParticleMessageKind.Hello;

    // Provisioning stores EC keys as the PEM of their SPKI (indexed, schema version 8), so the presented key matches by string.
    private async ValueTask<DtlsRegisteredKey?> FindKeyAsync(byte[] spki, CancellationToken cancellationToken)
    {
        string pem = PemEncoding.WriteString("PUBLIC KEY", spki);
        await using var scope = _scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        string? deviceId = await db.Devices.AsNoTracking().Where(d => d.EcPublicKeyPem == pem).Select(d => d.Id).FirstOrDefaultAsync(cancellationToken);
        if (deviceId is null)
        {
            await _services.Refusals.RecordAsync(AuditEventType.DeviceHandshakeRefused, null, null,
                "UDP handshake with an EC key no device has registered (SHA-256 " + Convert.ToHexStringLower(SHA256.HashData(spki))[..16] + "…)");
            return null;
        }
        return new DtlsRegisteredKey(spki, deviceId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device gateway listening on {Host}:{Port} (Gen3 UDP/DTLS)")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "DTLS session established for device {DeviceId}")]
    private static partial void LogEstablished(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId}'s UDP session is old; KeyChange sent for a new handshake")]
    private static partial void LogRenewed(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Error, Message = "UDP session of device {DeviceId} failed")]
    private static partial void LogSessionFailed(ILogger logger, Exception exception, string deviceId);
}

/// <summary>What the UDP gateway keeps on a DTLS session (its <see cref="DtlsSession.Tag"/>): the device, the CoAP
/// session running on it, if any, and the Hello it last sent, for a device that resumes without one.</summary>
internal sealed class UdpDeviceLink(string deviceId, DtlsSession dtls)
{
    private readonly Lock _gate = new();
    private CoapDatagramChannel? _channel;
    private DeviceSession? _session;

    public string DeviceId { get; } = deviceId;

    public DtlsSession Dtls { get; } = dtls;

    public HelloPayload? LastHello { get; set; }

    public CoapDatagramChannel? CurrentChannel
    {
        get
        {
            lock (_gate)
            {
                return _channel;
            }
        }
    }

    public void Begin(CoapDatagramChannel channel, DeviceSession session)
    {
        lock (_gate)
        {
            _channel = channel;
            _session = session;
        }
    }

    /// <summary>The session on <paramref name="channel"/> ended: the next datagram starts a new one.</summary>
    public void End(CoapDatagramChannel channel)
    {
        lock (_gate)
        {
            if (_channel == channel)
            {
                _channel = null;
                _session = null;
            }
        }
    }

    /// <summary>The DTLS session is gone (expired or removed): end the CoAP session on it.</summary>
    public void Close()
    {
        DeviceSession? session;
        lock (_gate)
        {
            session = _session;
        }
        if (session is not null)
        {
            _ = session.CloseAsync();
        }
    }
}
