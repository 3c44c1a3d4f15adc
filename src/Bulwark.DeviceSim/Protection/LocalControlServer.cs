using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Bulwark.DeviceSim.Protection;

/// <summary>A virtual device's local control channel, standing in for USB: a TCP listener on localhost that takes control
/// requests and answers them through the device's handler (the Device Protection gate). One request at a time per
/// connection, as USB control transfers are; several connections may be open.
/// <para>Framing, big-endian: request = <c>u16 type, u32 length, payload</c>; reply = <c>i32 result, u32 length,
/// payload</c>. <c>result</c> is the Device OS system error code (0 = ok, -1270 = SYSTEM_ERROR_PROTECTED). A payload
/// over <see cref="MaxPayload"/> closes the connection.</para></summary>
public sealed class LocalControlServer : IAsyncDisposable
{
    /// <summary>Device OS control requests are small; this bounds what one frame may make the listener buffer.</summary>
    public const int MaxPayload = 64 * 1024;

    private readonly Func<int, byte[], ControlReply> _handler;
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _acceptLoop;
    private readonly List<Task> _connections = [];
    private readonly Lock _gate = new();

    private LocalControlServer(Func<int, byte[], ControlReply> handler, int port)
    {
        _handler = handler;
        _listener = new TcpListener(IPAddress.Loopback, port);
        _listener.Start();
        EndPoint = (IPEndPoint)_listener.LocalEndpoint;
        _acceptLoop = AcceptLoopAsync();
    }

    /// <summary>Where the channel listens (127.0.0.1 and the bound port).</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Listens on 127.0.0.1:<paramref name="port"/> (0 picks a free port) and answers with <paramref name="handler"/>.</summary>
    public static LocalControlServer Start(Func<int, byte[], ControlReply> handler, int port = 0)
    {
        ArgumentNullException.ThrowIfNull(handler);
        ArgumentOutOfRangeException.ThrowIfNegative(port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        return new LocalControlServer(handler, port);
    }

    /// <summary>Sends one request over an open stream and reads the reply: the client half of the framing.</summary>
    public static async Task<ControlReply> SendAsync(Stream stream, int type, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(type);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(type, ushort.MaxValue);
        var header = new byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(header, (ushort)type);
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(2), (uint)payload.Length);
        await stream.WriteAsync(header, cancellationToken).ConfigureAwait(false);
        await stream.WriteAsync(payload, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        var replyHeader = new byte[8];
        await stream.ReadExactlyAsync(replyHeader, cancellationToken).ConfigureAwait(false);
        var result = BinaryPrimitives.ReadInt32BigEndian(replyHeader);
        var length = BinaryPrimitives.ReadUInt32BigEndian(replyHeader.AsSpan(4));
        if (length > MaxPayload)
        {
            throw new InvalidDataException($"control reply of {length} bytes is over the {MaxPayload}-byte limit");
        }
        var body = new byte[length];
        await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
        return new ControlReply(result, body);
    }

    public async ValueTask DisposeAsync()
    {
        if (_stop.IsCancellationRequested)
        {
            return;
        }
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener.Stop();
        Task[] pending;
        lock (_gate)
        {
            pending = [_acceptLoop, .. _connections];
        }
        try
        {
            await Task.WhenAll(pending).WaitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
        }
        _stop.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            lock (_gate)
            {
                _connections.RemoveAll(t => t.IsCompleted);
                _connections.Add(ServeAsync(client));
            }
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        await Task.Yield();
        using (client)
        {
            client.NoDelay = true;
            var stream = client.GetStream();
            var header = new byte[6];
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    if (!await ReadFrameStartAsync(stream, header, _stop.Token).ConfigureAwait(false))
                    {
                        return;
                    }
                    var type = BinaryPrimitives.ReadUInt16BigEndian(header);
                    var length = BinaryPrimitives.ReadUInt32BigEndian(header.AsSpan(2));
                    if (length > MaxPayload)
                    {
                        return;
                    }
                    var payload = new byte[length];
                    await stream.ReadExactlyAsync(payload, _stop.Token).ConfigureAwait(false);
                    ControlReply reply;
                    try
                    {
                        reply = _handler(type, payload);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        reply = new ControlReply(SystemError.InvalidState, []);
                    }
                    var replyHeader = new byte[8];
                    BinaryPrimitives.WriteInt32BigEndian(replyHeader, reply.Result);
                    BinaryPrimitives.WriteUInt32BigEndian(replyHeader.AsSpan(4), (uint)reply.Payload.Length);
                    await stream.WriteAsync(replyHeader, _stop.Token).ConfigureAwait(false);
                    await stream.WriteAsync(reply.Payload, _stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or EndOfStreamException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // The client went away, or the device is shutting down.
            }
        }
    }

    /// <summary>Reads a request header; false on a clean end of stream before it.</summary>
    private static async Task<bool> ReadFrameStartAsync(NetworkStream stream, byte[] header, CancellationToken cancellationToken)
    {
        var read = 0;
        while (read < header.Length)
        {
            var n = await stream.ReadAsync(header.AsMemory(read), cancellationToken).ConfigureAwait(false);
            if (n == 0)
            {
                if (read == 0)
                {
                    return false;
                }
                throw new EndOfStreamException();
            }
            read += n;
        }
        return true;
    }
}
