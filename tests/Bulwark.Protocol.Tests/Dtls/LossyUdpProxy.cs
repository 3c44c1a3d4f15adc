using System.Net;
using System.Net.Sockets;

namespace Bulwark.Protocol.Tests.Dtls;

/// <summary>
/// A UDP shim between one client and the server that drops a share of datagrams both ways and holds some back
/// so they arrive after the next one (reordering). Seeded, so a failure replays.
/// </summary>
internal sealed class LossyUdpProxy : IAsyncDisposable
{
    private readonly Socket _front = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly Socket _back = new(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
    private readonly IPEndPoint _server;
    private readonly double _dropRate;
    private readonly double _reorderRate;
    private readonly Random _random;
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _up;
    private readonly Task _down;
    private IPEndPoint? _client;

    public LossyUdpProxy(IPEndPoint server, double dropRate, double reorderRate, int seed)
    {
        _server = server;
        _dropRate = dropRate;
        _reorderRate = reorderRate;
        _random = new Random(seed);
        _front.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _back.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        _up = Task.Run(() => PumpAsync(_front, toServer: true));
        _down = Task.Run(() => PumpAsync(_back, toServer: false));
    }

    public IPEndPoint EndPoint => (IPEndPoint)_front.LocalEndPoint!;

    public int Dropped { get; private set; }

    /// <summary>Every datagram that reached the shim, dropped or not (to bound retransmission traffic).</summary>
    public int Seen { get; private set; }

    public int Reordered { get; private set; }

    private async Task PumpAsync(Socket socket, bool toServer)
    {
        var buffer = new byte[65536];
        byte[]? held = null;
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await socket.ReceiveFromAsync(buffer, SocketFlags.None, new IPEndPoint(IPAddress.Any, 0), _stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException)
            {
                continue;
            }

            byte[] datagram = buffer.AsSpan(0, received.ReceivedBytes).ToArray();
            bool drop;
            bool hold;
            lock (_gate)
            {
                if (toServer)
                {
                    _client = (IPEndPoint)received.RemoteEndPoint;
                }

                drop = _random.NextDouble() < _dropRate;
                hold = !drop && held is null && _random.NextDouble() < _reorderRate;
                Seen++;
                Dropped += drop ? 1 : 0;
                Reordered += hold ? 1 : 0;
            }

            if (drop)
            {
                continue;
            }

            if (hold)
            {
                held = datagram;
                continue;
            }

            await ForwardAsync(datagram, toServer);
            if (held is not null)
            {
                await ForwardAsync(held, toServer);
                held = null;
            }
        }
    }

    private async Task ForwardAsync(byte[] datagram, bool toServer)
    {
        try
        {
            if (toServer)
            {
                await _back.SendToAsync(datagram, SocketFlags.None, _server);
            }
            else if (_client is not null)
            {
                await _front.SendToAsync(datagram, SocketFlags.None, _client);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // The proxy is shutting down or the peer is gone: a lost datagram is what this shim is for.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _front.Dispose();
        _back.Dispose();
        await Task.WhenAll(_up, _down);
        _stop.Dispose();
    }
}
