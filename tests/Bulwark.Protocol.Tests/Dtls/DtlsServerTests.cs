using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;
using Bulwark.Protocol.Dtls;

namespace Bulwark.Protocol.Tests.Dtls;

public sealed class DtlsServerTests : IAsyncLifetime
{
    private static readonly TimeSpan TestTimeout = TimeSpan.FromSeconds(60);

    private readonly ECDsa _serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _serverPublic = ECDsa.Create();
    private readonly ECDsa _deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly Channel<(DtlsSession Session, byte[] Payload)> _received = Channel.CreateUnbounded<(DtlsSession, byte[])>();
    private DtlsServer _server = null!;

    public Task InitializeAsync()
    {
        _serverPublic.ImportSubjectPublicKeyInfo(_serverKey.ExportSubjectPublicKeyInfo(), out _);
        byte[] deviceSpki = _deviceKey.ExportSubjectPublicKeyInfo();
        _server = new DtlsServer(
            _serverKey,
            spki => spki.AsSpan().SequenceEqual(deviceSpki) ? new DtlsRegisteredKey(deviceSpki, "0123456789abcdef01234567") : null,
            new DtlsServerOptions
            {
                EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
                InitialRetransmitTimeout = TimeSpan.FromMilliseconds(150),
                MaxRetransmitTimeout = TimeSpan.FromMilliseconds(600),
                TimerInterval = TimeSpan.FromMilliseconds(25),
            });
        // Echo every application record back, and record it.
        _server.OnApplicationData = async (session, payload) =>
        {
            _received.Writer.TryWrite((session, payload.ToArray()));
            await _server.SendAsync(session, payload);
        };
        _server.Start();
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _serverKey.Dispose();
        _serverPublic.Dispose();
        _deviceKey.Dispose();
    }

    private DtlsClient NewClient(IPEndPoint? via = null) => new(_deviceKey, _serverPublic, via ?? _server.LocalEndPoint, new DtlsClientOptions
    {
        InitialRetransmitTimeout = TimeSpan.FromMilliseconds(150),
        MaxRetransmitTimeout = TimeSpan.FromMilliseconds(600),
    });

    [Fact]
    public async Task Full_handshake_over_loopback_then_application_data_both_ways()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using DtlsClient client = NewClient();
        await client.ConnectAsync(timeout.Token);

        Assert.True(client.SawHelloVerifyRequest);
        Assert.Equal(8, client.ConnectionId.Length);
        DtlsSession session = _server.FindSession(client.ConnectionId)!;
        Assert.True(session.IsEstablished);
        Assert.Equal("0123456789abcdef01234567", session.RegisteredKey!.DeviceId);

        await client.SendAsync("hello coap"u8.ToArray(), timeout.Token);
        (DtlsSession from, byte[] payload) = await _received.Reader.ReadAsync(timeout.Token);
        Assert.Same(session, from);
        Assert.Equal("hello coap"u8.ToArray(), payload);
        Assert.Equal("hello coap"u8.ToArray(), await client.ReceiveAsync(timeout.Token));
    }

    [Fact]
    public async Task An_asynchronous_key_lookup_pauses_the_handshake_without_losing_the_device_flight()
    {
        byte[] deviceSpki = _deviceKey.ExportSubjectPublicKeyInfo();
        await using var server = new DtlsServer(
            _serverKey,
            async (spki, cancellationToken) =>
            {
                await Task.Delay(100, cancellationToken);
                return spki.AsSpan().SequenceEqual(deviceSpki) ? new DtlsRegisteredKey(deviceSpki, "async") : null;
            },
            new DtlsServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0) });
        server.Start();

        // A long client timer: the handshake only finishes quickly if the records that came with the Certificate
        // (ClientKeyExchange, CertificateVerify, the epoch-1 Finished) were kept through the lookup.
        await using var client = new DtlsClient(_deviceKey, _serverPublic, server.LocalEndPoint, new DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromSeconds(20) });
        var elapsed = System.Diagnostics.Stopwatch.StartNew();
        using var timeout = new CancellationTokenSource(TestTimeout);
        await client.ConnectAsync(timeout.Token);
        Assert.True(elapsed.Elapsed < TimeSpan.FromSeconds(10), $"handshake took {elapsed.Elapsed}");
        Assert.Equal("async", server.FindSession(client.ConnectionId)!.RegisteredKey!.DeviceId);
    }

    [Fact]
    public async Task A_handshake_over_a_clean_link_needs_no_retransmission()
    {
        // Both retransmission timers far beyond the deadline: any datagram the peer drops (e.g. a ServerHello whose record
        // number repeats the HelloVerifyRequest's, which the device's replay window rejects) fails the test. Before the
        // fix every handshake waited for the server's 1 s timer.
        byte[] deviceSpki = _deviceKey.ExportSubjectPublicKeyInfo();
        await using var server = new DtlsServer(_serverKey, spki => new DtlsRegisteredKey(deviceSpki, "clean"),
            new DtlsServerOptions { EndPoint = new IPEndPoint(IPAddress.Loopback, 0), InitialRetransmitTimeout = TimeSpan.FromSeconds(30) });
        server.Start();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        for (int i = 0; i < 3; i++)
        {
            await using var client = new DtlsClient(_deviceKey, _serverPublic, server.LocalEndPoint, new DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromSeconds(30) });
            await client.ConnectAsync(timeout.Token);
            Assert.True(client.SawHelloVerifyRequest);
        }
    }

    [Fact]
    public async Task Session_resumes_by_cid_after_the_client_changes_port()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        await using DtlsClient client = NewClient();
        await client.ConnectAsync(timeout.Token);
        await client.SendAsync("before"u8.ToArray(), timeout.Token);
        Assert.Equal("before"u8.ToArray(), await client.ReceiveAsync(timeout.Token));
        int oldPort = client.LocalEndPoint.Port;

        // No handshake: the device restores its session and writes from a new port with outer type 253.
        await client.RebindAsync();
        Assert.NotEqual(oldPort, client.LocalEndPoint.Port);
        await client.SendAsync("after"u8.ToArray(), timeout.Token);
        Assert.Equal("after"u8.ToArray(), await client.ReceiveAsync(timeout.Token));

        DtlsSession session = _server.FindSession(client.ConnectionId)!;
        Assert.Equal(client.LocalEndPoint.Port, session.RemoteEndPoint.Port);
        Assert.Equal(1, _server.SessionCount);
    }

    [Fact]
    public async Task A_rebooted_device_restores_its_saved_session_without_a_handshake()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        DtlsSavedSession saved;
        await using (DtlsClient first = NewClient())
        {
            await first.ConnectAsync(timeout.Token);
            await first.SendAsync("one"u8.ToArray(), timeout.Token);
            Assert.Equal("one"u8.ToArray(), await first.ReceiveAsync(timeout.Token));
            saved = first.SaveSession();
        }

        await using DtlsClient resumed = DtlsClient.Resume(saved, _deviceKey, _serverPublic, _server.LocalEndPoint);
        await resumed.SendAsync("two"u8.ToArray(), timeout.Token);
        Assert.Equal("two"u8.ToArray(), await resumed.ReceiveAsync(timeout.Token));
        Assert.Equal(0, _server.PendingHandshakeCount);
        Assert.Equal(1, _server.SessionCount);

        // KeyChange: once the gateway forgets the session, the saved one no longer gets through.
        _server.Remove(_server.FindSession(saved.ConnectionId)!);
        await resumed.SendAsync("three"u8.ToArray(), timeout.Token);
        using var wait = new CancellationTokenSource(TimeSpan.FromMilliseconds(500));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await resumed.ReceiveAsync(wait.Token));
    }

    [Fact]
    public async Task Handshake_and_messages_complete_through_loss_and_reordering()
    {
        using var timeout = new CancellationTokenSource(TestTimeout);
        for (int seed = 1; seed <= 5; seed++)
        {
            await using var proxy = new LossyUdpProxy(_server.LocalEndPoint, dropRate: 0.10, reorderRate: 0.15, seed);
            await using DtlsClient client = NewClient(proxy.EndPoint);
            await client.ConnectAsync(timeout.Token);

            // DTLS does not retransmit application data (CoAP does): resend until each echo comes back.
            for (int i = 0; i < 10; i++)
            {
                byte[] message = [(byte)seed, (byte)i];
                while (true)
                {
                    await client.SendAsync(message, timeout.Token);
                    using var wait = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token);
                    wait.CancelAfter(TimeSpan.FromMilliseconds(300));
                    try
                    {
                        byte[] echo = await client.ReceiveAsync(wait.Token);
                        if (echo.AsSpan().SequenceEqual(message))
                        {
                            break;
                        }
                    }
                    catch (OperationCanceledException) when (!timeout.IsCancellationRequested)
                    {
                    }
                }
            }
        }
    }

    [Fact]
    public async Task Spoofed_client_hellos_without_a_valid_cookie_allocate_no_state()
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        var buffer = new byte[2048];
        int verifyRequests = 0;
        for (int i = 0; i < 200; i++)
        {
            byte[] cookie = i % 2 == 0 ? [] : RandomNumberGenerator.GetBytes(DtlsCookie.Length);
            byte[] body = DtlsClientHello.DeviceOs(RandomNumberGenerator.GetBytes(32), cookie).ToArray();
            byte[] fragment = new DtlsHandshakeFragment(DtlsHandshakeType.ClientHello, body.Length, 0, 0, body).ToArray();
            byte[] record = new DtlsRecord(DtlsContentType.Handshake, 0, (ulong)i, ReadOnlyMemory<byte>.Empty, fragment).ToArray();
            await socket.SendToAsync(record, SocketFlags.None, _server.LocalEndPoint);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            SocketReceiveFromResult reply = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), wait.Token);
            DtlsRecord parsed = DtlsRecord.ParseDatagram(buffer.AsMemory(0, reply.ReceivedBytes).ToArray(), 0).Single();
            Assert.True(DtlsHandshakeFragment.TryParse(parsed.Fragment, out DtlsHandshakeFragment? answer, out _));
            Assert.Equal(DtlsHandshakeType.HelloVerifyRequest, answer.Type);
            Assert.Equal((ulong)i, parsed.Sequence);
            verifyRequests++;
        }

        Assert.Equal(200, verifyRequests);
        Assert.Equal(0, _server.SessionCount);
        Assert.Equal(0, _server.EndPointCount);
    }

    [Fact]
    public void A_cookie_is_bound_to_the_client_address()
    {
        var cookie = new DtlsCookie(TimeProvider.System, TimeSpan.FromMinutes(5));
        DtlsClientHello hello = DtlsClientHello.DeviceOs(new byte[32], []);
        var from = new IPEndPoint(IPAddress.Loopback, 40000);
        DtlsClientHello withCookie = hello with { Cookie = cookie.Create(from, hello) };
        Assert.True(cookie.IsValid(from, withCookie));
        Assert.False(cookie.IsValid(new IPEndPoint(IPAddress.Loopback, 40001), withCookie));
        Assert.False(cookie.IsValid(from, withCookie with { Random = new byte[32].Select(_ => (byte)1).ToArray() }));
    }

    [Fact]
    public async Task An_unregistered_device_key_is_refused_and_its_state_dropped()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        using var stranger = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        await using var client = new DtlsClient(stranger, _serverPublic, _server.LocalEndPoint, new DtlsClientOptions { InitialRetransmitTimeout = TimeSpan.FromMilliseconds(150) });
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => client.ConnectAsync(timeout.Token));
        Assert.Equal(0, _server.SessionCount);
    }
}
