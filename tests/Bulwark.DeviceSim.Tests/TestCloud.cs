using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

/// <summary>
/// A minimal Gen2 cloud on a loopback port, built only from the Protocol library: it runs the server handshake for
/// registered devices, sends its Hello, and hands each session to the test as a <see cref="TestConnection"/>.
/// </summary>
internal sealed class TestCloud : IAsyncDisposable
{
    // RSA-2048 key generation takes a while; one key serves every test.
    private static readonly Lazy<ServerPrivateKey> SharedKey = new(ServerPrivateKey.Generate);

    private readonly TcpListener _listener;
    private readonly ConcurrentDictionary<DeviceId, DevicePublicKey> _registered = new();
    private readonly Channel<TestConnection> _accepted = Channel.CreateUnbounded<TestConnection>();
    private readonly Channel<Gen2ServerHandshakeResult> _refused = Channel.CreateUnbounded<Gen2ServerHandshakeResult>();
    private readonly ConcurrentBag<TestConnection> _connections = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;

    private TestCloud(bool sendHello)
    {
        SendHello = sendHello;
        _listener = new TcpListener(IPAddress.Loopback, 0);
        _listener.Start();
        _acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public static ServerPrivateKey ServerKey => SharedKey.Value;

    /// <summary>The server key as a device holds it.</summary>
    public static ServerPublicKey DeviceViewOfServerKey => ServerPublicKey.FromSpki(ServerKey.PublicKeySpki);

    public string Host => "127.0.0.1";

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public bool SendHello { get; }

    public static TestCloud Start(bool sendHello = true) => new(sendHello);

    public void Register(DeviceId id, DevicePublicKey key) => _registered[id] = key;

    /// <summary>The next device session to complete its handshake.</summary>
    public async Task<TestConnection> AcceptAsync(CancellationToken cancellationToken = default) =>
        await _accepted.Reader.ReadAsync(cancellationToken);

    /// <summary>The next refused handshake.</summary>
    public async Task<Gen2ServerHandshakeResult> NextRefusalAsync(CancellationToken cancellationToken = default) =>
        await _refused.Reader.ReadAsync(cancellationToken);

    private async Task AcceptLoopAsync()
    {
        var handshake = new Gen2ServerHandshake(ServerKey, TimeSpan.FromSeconds(10));
        while (!_stop.IsCancellationRequested)
        {
            Socket socket;
            try
            {
                socket = await _listener.AcceptSocketAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Task.Run(async () =>
            {
                var stream = new NetworkStream(socket, ownsSocket: true);
                Gen2ServerHandshakeResult result = await handshake.RunAsync(
                    stream,
                    (id, _) => ValueTask.FromResult(_registered.TryGetValue(id, out DevicePublicKey? key) ? key : null),
                    _stop.Token);
                if (!result.Succeeded)
                {
                    await stream.DisposeAsync();
                    _refused.Writer.TryWrite(result);
                    return;
                }

                var connection = new TestConnection(new Gen2Channel(stream, result.SessionKeys!), result.DeviceId!.Value, result, () => ShutDown(socket));
                _connections.Add(connection);
                if (SendHello)
                {
                    await connection.SendAsync(ParticleMessages.ServerHello(connection.NextMessageId()));
                }

                _accepted.Writer.TryWrite(connection);
            });
        }
    }

    // Like a real cloud: once the device has finished (Goodbye then FIN), close our side too.
    private static void ShutDown(Socket socket)
    {
        try
        {
            socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _acceptLoop;
        foreach (TestConnection connection in _connections)
        {
            await connection.DisposeAsync();
        }

        _stop.Dispose();
    }
}

/// <summary>One device session as the test cloud sees it (TCP, or one DTLS session for <see cref="TestDtlsCloud"/>): every
/// received message is queued in order.</summary>
internal sealed class TestConnection : IAsyncDisposable
{
    private readonly ICoapChannel _channel;
    private readonly Gen2ServerHandshakeResult? _handshake;
    private readonly Action _ended;
    private readonly Channel<CoapMessage> _received = Channel.CreateUnbounded<CoapMessage>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _readLoop;
    private int _nextToken = 0x40;

    /// <param name="ended">Runs when the channel ends or the test closes the connection (TCP: shut the socket down).</param>
    public TestConnection(ICoapChannel channel, DeviceId deviceId, Gen2ServerHandshakeResult? handshake, Action ended)
    {
        _channel = channel;
        _handshake = handshake;
        _ended = ended;
        DeviceId = deviceId;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    /// <summary>TCP only: the server handshake's result.</summary>
    public Gen2ServerHandshakeResult Handshake => _handshake ?? throw new InvalidOperationException("A UDP connection has no Gen2 handshake.");

    public DeviceId DeviceId { get; }

    /// <summary>UDP: the server's DTLS session (by CID) this connection runs on.</summary>
    public Bulwark.Protocol.Dtls.DtlsSession? DtlsSession { get; init; }

    /// <summary>Every message received, in order, including those <see cref="ReceiveAsync(CancellationToken)"/> skipped.</summary>
    public System.Collections.Concurrent.ConcurrentQueue<CoapMessage> Log { get; } = new();

    /// <summary>UDP: answers a CON from the device before the test sees it; returns null to leave it unanswered.</summary>
    public Func<CoapMessage, CoapMessage?>? Answer { get; set; }

    /// <summary>Completes when the device closes the connection (or sends garbage).</summary>
    public Task Closed => _closed.Task;

    public ICoapChannel CoapChannel => _channel;

    public ushort NextMessageId() => _channel.NextMessageId();

    public byte NextToken() => (byte)Interlocked.Increment(ref _nextToken);

    public ValueTask SendAsync(CoapMessage message) => _channel.SendAsync(message);

    /// <summary>The next message, whatever it is.</summary>
    public async Task<CoapMessage> ReceiveAsync(CancellationToken cancellationToken = default) =>
        await _received.Reader.ReadAsync(cancellationToken);

    /// <summary>Skips messages until one matches.</summary>
    public async Task<CoapMessage> ReceiveAsync(Func<CoapMessage, bool> predicate, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            CoapMessage message = await _received.Reader.ReadAsync(cancellationToken);
            if (predicate(message))
            {
                return message;
            }
        }
    }

    /// <summary>Skips messages until one of the given Particle kind arrives.</summary>
    public Task<CoapMessage> ReceiveAsync(ParticleMessageKind kind, CancellationToken cancellationToken = default) =>
        ReceiveAsync(m => ParticleMessageClassifier.Classify(m) == kind, cancellationToken);

    private async Task ReadLoopAsync()
    {
        try
        {
            while (true)
            {
                CoapReceiveResult result = await _channel.ReceiveAsync();
                if (result.Message is null)
                {
                    if (result.Error == CoapChannelError.MalformedCoap)
                    {
                        continue;
                    }

                    break;
                }

                Log.Enqueue(result.Message);
                if (result.Message.Type == CoapMessageType.Confirmable && Answer?.Invoke(result.Message) is { } answer)
                {
                    await _channel.SendAsync(answer);
                }

                _received.Writer.TryWrite(result.Message);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }
        finally
        {
            _ended();
            _received.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }

    /// <summary>Closes from the server side.</summary>
    public async ValueTask DisposeAsync()
    {
        _ended();
        await _channel.DisposeAsync();
        await _readLoop;
    }
}
