using System.Net;
using System.Net.Sockets;
using Bulwark.Protocol.LocalControl;

namespace Bulwark.DeviceSim.Protection;

/// <summary>A virtual device's local control channel, standing in for USB: a TCP listener on localhost that takes control
/// requests and answers them through the device's handler (the Device Protection gate). One request at a time per
/// connection, as USB control transfers are; several connections may be open. Framing: <see cref="LocalControlFrame"/>;
/// a request over its size limit closes the connection.</summary>
public sealed class LocalControlServer : IAsyncDisposable
{
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
        await LocalControlFrame.WriteRequestAsync(stream, type, payload, cancellationToken).ConfigureAwait(false);
        var (result, body) = await LocalControlFrame.ReadReplyAsync(stream, cancellationToken).ConfigureAwait(false);
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
            try
            {
                while (!_stop.IsCancellationRequested)
                {
                    if (await LocalControlFrame.ReadRequestAsync(stream, _stop.Token).ConfigureAwait(false) is not { } request)
                    {
                        return;
                    }
                    var (type, payload) = request;
                    ControlReply reply;
                    try
                    {
                        reply = _handler(type, payload);
                    }
                    catch (Exception e) when (e is not OutOfMemoryException)
                    {
                        reply = new ControlReply(SystemError.InvalidState, []);
                    }
                    await LocalControlFrame.WriteReplyAsync(stream, reply.Result, reply.Payload, _stop.Token).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or InvalidDataException or OperationCanceledException or ObjectDisposedException or SocketException)
            {
                // The client went away, sent an oversized frame, or the device is shutting down.
            }
        }
    }
}
