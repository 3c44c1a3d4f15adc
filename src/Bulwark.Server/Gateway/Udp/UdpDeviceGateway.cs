using System.Net;
using System.Security.Cryptography;
using Bulwark.Protocol.Dtls;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Keys;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Gateway.Udp;

/// <summary>
/// The Gen3 UDP/DTLS listener (device-protocol.md 2), off unless <c>Bulwark:Gateway:UdpEnabled</c>. For now it
/// completes handshakes against each device's registered EC key and keeps sessions by CID; the CoAP device
/// protocol on top (Hello, Describe, events, functions, OTA) is not wired yet, see README.md.
/// </summary>
public sealed partial class UdpDeviceGateway(GatewayOptions options, ServerKeyStore keys, IServiceScopeFactory scopes, TimeProvider clock,
    ILogger<UdpDeviceGateway> logger) : IHostedService, IAsyncDisposable
{
    private DtlsServer? _server;

    /// <summary>The DTLS server once started (null when UDP is off); the bound port is on <see cref="DtlsServer.LocalEndPoint"/>.</summary>
    public DtlsServer? Server => _server;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Enabled || !options.UdpEnabled)
        {
            return Task.CompletedTask;
        }

        var server = new DtlsServer(
            new DtlsHashSigner(hash => keys.SignEcHash(hash)),
            FindKeyAsync,
            new DtlsServerOptions { EndPoint = new IPEndPoint(IPAddress.Parse(options.UdpHost), options.UdpPort) },
            clock);
        server.OnSessionEstablished = session => LogEstablished(logger, session.RegisteredKey?.DeviceId ?? "-");
        server.OnApplicationData = (session, payload) =>
        {
            LogApplicationData(logger, session.RegisteredKey?.DeviceId ?? "-", payload.Length);
            return ValueTask.CompletedTask;
        };
        // Bind before the host reports started, as the TCP gateway does, so a port conflict fails startup.
        server.Start();
        _server = server;
        LogListening(logger, options.UdpHost, server.LocalEndPoint.Port);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_server is { } server)
        {
            _server = null;
            await server.DisposeAsync();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync(CancellationToken.None);

    // Provisioning stores EC keys as the PEM of their SPKI, so the presented key matches by string.
    // TODO(udp): an indexed SPKI hash column once the device table gets its next migration; this is a scan.
    private async ValueTask<DtlsRegisteredKey?> FindKeyAsync(byte[] spki, CancellationToken cancellationToken)
    {
        string pem = PemEncoding.WriteString("PUBLIC KEY", spki);
        await using var scope = scopes.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        string? deviceId = await db.Devices.Where(d => d.EcPublicKeyPem == pem).Select(d => d.Id).FirstOrDefaultAsync(cancellationToken);
        return deviceId is null ? null : new DtlsRegisteredKey(spki, deviceId);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device gateway listening on {Host}:{Port} (Gen3 UDP/DTLS)")]
    private static partial void LogListening(ILogger logger, string host, int port);

    [LoggerMessage(Level = LogLevel.Information, Message = "DTLS session established for device {DeviceId}")]
    private static partial void LogEstablished(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Device {DeviceId} sent a {Length}-byte datagram; the UDP CoAP session is not wired yet")]
    private static partial void LogApplicationData(ILogger logger, string deviceId, int length);
}
