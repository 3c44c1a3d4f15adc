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

                var connection = new TestConnection(socket, new Gen2Channel(stream, result.SessionKeys!), result);
                _connections.Add(connection);
                if (SendHello)
                {
                    await connection.SendAsync(ParticleMessages.ServerHello(connection.NextMessageId()));
                }

                _accepted.Writer.TryWrite(connection);
            });
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

/// <summary>One device session as the test cloud sees it: every received message is queued in order.</summary>
internal sealed class TestConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Gen2Channel _channel;
    private readonly Channel<CoapMessage> _received = Channel.CreateUnbounded<CoapMessage>();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _readLoop;
    private int _nextToken = 0x40;

    public TestConnection(Socket socket, Gen2Channel channel, Gen2ServerHandshakeResult handshake)
    {
        _socket = socket;
        _channel = channel;
        Handshake = handshake;
        _readLoop = Task.Run(ReadLoopAsync);
    }

    public Gen2ServerHandshakeResult Handshake { get; }

    public DeviceId DeviceId => Handshake.DeviceId!.Value;

    /// <summary>Completes when the device closes the connection (or sends garbage).</summary>
    public Task Closed => _closed.Task;

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

                _received.Writer.TryWrite(result.Message);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
        }
        finally
        {
            // Like a real cloud: once the device has finished (Goodbye then FIN), close our side too.
            try
            {
                _socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            _received.Writer.TryComplete();
            _closed.TrySetResult();
        }
    }

    /// <summary>Closes from the server side.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }

        await _channel.DisposeAsync();
        await _readLoop;
    }
}
