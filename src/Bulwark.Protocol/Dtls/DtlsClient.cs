using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Threading.Channels;

namespace Bulwark.Protocol.Dtls;

/// <summary>A device's saved DTLS session.</summary>
public sealed record DtlsSavedSession(byte[] MasterSecret, byte[] ClientRandom, byte[] ServerRandom, byte[] ConnectionId, ulong NextWriteSequence);

public sealed class DtlsClientOptions
{
    public int Mtu { get; set; } = 1200;

    /// <summary>Device OS uses 3 s doubling to 24 s; tests shorten it.</summary>
    public TimeSpan InitialRetransmitTimeout { get; set; } = TimeSpan.FromSeconds(3);

    public TimeSpan MaxRetransmitTimeout { get; set; } = TimeSpan.FromSeconds(24);
}

/// <summary>
/// A Device OS-like DTLS client over its own UDP socket, for the simulator and tests: handshake with retransmission,
/// application records both ways, and <see cref="RebindAsync"/> to carry on the same session from a new port the way
/// a device does after restoring a saved session (outer type 253 until the first reply).
/// </summary>
public sealed class DtlsClient : IAsyncDisposable
{
    private readonly ECDsa _deviceKey;
    private readonly ECDsa _serverPublicKey;
    private readonly IPEndPoint _server;
    private readonly DtlsClientOptions _options;
    private readonly DtlsRecordLayer _layer = new();
    private readonly Channel<byte[]> _incoming = Channel.CreateUnbounded<byte[]>();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private Socket _socket;
    private DtlsClientHandshake? _handshake;
    private bool _resumed;
    private DtlsSavedSession? _restored;
    private TaskCompletionSource _completed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private Task _receiveLoop = Task.CompletedTask;

    public DtlsClient(ECDsa deviceKey, ECDsa serverPublicKey, IPEndPoint server, DtlsClientOptions? options = null)
    {
        _deviceKey = deviceKey;
        _serverPublicKey = serverPublicKey;
        _server = server;
        _options = options ?? new DtlsClientOptions();
        _socket = NewSocket(server);
    }

    public IPEndPoint LocalEndPoint => (IPEndPoint)_socket.LocalEndPoint!;

    public byte[] ConnectionId => _handshake?.ConnectionId ?? _layer.SendCid;

    private bool IsEstablished => _resumed || _handshake is { IsComplete: true };

    /// <summary>
    /// What Device OS keeps in its session store to skip the handshake next time (dtls_session_persist.h): the keys'
    /// inputs, the CID and the outgoing counter. A resumed session can be saved again, with its counter moved on.
    /// </summary>
    public DtlsSavedSession SaveSession()
    {
        lock (_gate)
        {
            if (_restored is { } restored)
            {
                return restored with { NextWriteSequence = _layer.WriteSequence(1) };
            }

            if (_handshake is not { IsComplete: true, MasterSecret: not null })
            {
                throw new InvalidOperationException("Only an established session can be saved.");
            }

            return new DtlsSavedSession(_handshake.MasterSecret, _handshake.ClientRandom, _handshake.ServerRandom, _layer.SendCid, _layer.WriteSequence(1));
        }
    }

    /// <summary>A client that carries on a saved session from a fresh socket with no handshake, as a rebooted device does.</summary>
    public static DtlsClient Resume(DtlsSavedSession saved, ECDsa deviceKey, ECDsa serverPublicKey, IPEndPoint server, DtlsClientOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(saved);
        var client = new DtlsClient(deviceKey, serverPublicKey, server, options) { _resumed = true, _restored = saved };
        client._layer.InstallKeys(DtlsPrf.KeyBlock(saved.MasterSecret, saved.ClientRandom, saved.ServerRandom), isServer: false);
        client._layer.SendCid = saved.ConnectionId;
        client._layer.RestoreWriteSequence(saved.NextWriteSequence);
        client._layer.SendMovedType = true;
        client._receiveLoop = Task.Run(client.ReceiveLoopAsync, CancellationToken.None);
        return client;
    }

    public bool SawHelloVerifyRequest => _handshake?.SawHelloVerifyRequest ?? false;

    /// <summary>Runs the handshake, resending the last flight on a doubling timer, until the server's Finished verifies.</summary>
    public async Task ConnectAsync(CancellationToken cancellationToken)
    {
        _handshake = new DtlsClientHandshake(_deviceKey, _serverPublicKey, _layer);
        List<byte[]> flight;
        lock (_gate)
        {
            flight = _layer.Pack(_handshake.Start(), _options.Mtu);
        }

        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
        TimeSpan timeout = _options.InitialRetransmitTimeout;
        await SendAsync(flight, cancellationToken).ConfigureAwait(false);
        while (true)
        {
            Task completed = _completed.Task;
            Task winner = await Task.WhenAny(completed, Task.Delay(timeout, cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (winner == completed)
            {
                await completed.ConfigureAwait(false);
                if (_handshake.IsComplete)
                {
                    return;
                }

                // Progress (a new flight went out): restart the timer for it.
                timeout = _options.InitialRetransmitTimeout;
                continue;
            }

            lock (_gate)
            {
                flight = _layer.Pack(_handshake.LastFlight, _options.Mtu);
            }

            await SendAsync(flight, cancellationToken).ConfigureAwait(false);
            timeout = TimeSpan.FromTicks(Math.Min(timeout.Ticks * 2, _options.MaxRetransmitTimeout.Ticks));
        }
    }

    /// <summary>Sends one application record (a CoAP datagram).</summary>
    public async ValueTask SendAsync(ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        byte[] record;
        lock (_gate)
        {
            record = _layer.Encode(DtlsContentType.ApplicationData, 1, payload.Span);
        }

        await _socket.SendToAsync(record, SocketFlags.None, _server, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The next application record from the server.</summary>
    public ValueTask<byte[]> ReceiveAsync(CancellationToken cancellationToken) => _incoming.Reader.ReadAsync(cancellationToken);

    /// <summary>Moves to a new local port keeping the session, as a device restoring its saved session does.</summary>
    public async Task RebindAsync()
    {
        Socket old = _socket;
        lock (_gate)
        {
            _socket = NewSocket(_server);
            _layer.SendMovedType = true;
        }

        old.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        _receiveLoop = Task.Run(ReceiveLoopAsync, CancellationToken.None);
    }

    private async Task SendAsync(List<byte[]> datagrams, CancellationToken cancellationToken)
    {
        foreach (byte[] datagram in datagrams)
        {
            await _socket.SendToAsync(datagram, SocketFlags.None, _server, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync()
    {
        Socket socket = _socket;
        var buffer = new byte[65536];
        while (!_stop.IsCancellationRequested)
        {
            int length;
            try
            {
                SocketReceiveFromResult received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, _server, _stop.Token).ConfigureAwait(false);
                length = received.ReceivedBytes;
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                if (socket != _socket)
                {
                    return;
                }

                continue;
            }

            List<byte[]> replies = [];
            lock (_gate)
            {
                foreach (DtlsRecord record in DtlsRecord.ParseDatagram(buffer.AsSpan(0, length).ToArray(), 0))
                {
                    if (!_layer.TryDecode(record, out DtlsContentType type, out ReadOnlyMemory<byte> content))
                    {
                        continue;
                    }

                    if (record.Epoch > 0)
                    {
                        // Anything back from the server means it knows where we are now (DTLSMessageChannel).
                        _layer.SendMovedType = false;
                    }

                    if (type == DtlsContentType.ApplicationData && IsEstablished)
                    {
                        _incoming.Writer.TryWrite(content.ToArray());
                    }
                    else if (_handshake is not null && _handshake.Handle(type, content))
                    {
                        replies.AddRange(_layer.Pack(_handshake.LastFlight, _options.Mtu));
                    }
                }

                if (_handshake is not null && (replies.Count > 0 || _handshake.IsComplete || _handshake.Failure != DtlsHandshakeFailure.None))
                {
                    TaskCompletionSource done = _completed;
                    _completed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    if (_handshake.Failure != DtlsHandshakeFailure.None)
                    {
                        done.TrySetException(new CryptographicException($"DTLS handshake failed: {_handshake.Failure}."));
                    }
                    else
                    {
                        done.TrySetResult();
                    }
                }
            }

            try
            {
                await SendAsync(replies, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
            }
        }
    }

    // A fresh ephemeral port each time, as a device that rebooted or roamed gets one; loopback only for a loopback server.
    private static Socket NewSocket(IPEndPoint server)
    {
        var socket = new Socket(server.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        IPAddress local = IPAddress.IsLoopback(server.Address)
            ? server.Address
            : server.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any;
        socket.Bind(new IPEndPoint(local, 0));
        return socket;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket.Dispose();
        await _receiveLoop.ConfigureAwait(false);
        _handshake?.Dispose();
        _layer.Dispose();
        _stop.Dispose();
    }
}
