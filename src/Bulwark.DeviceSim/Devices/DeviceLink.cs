using System.Net.Sockets;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;

namespace Bulwark.DeviceSim.Devices;

/// <summary>The transport under one session; the session reads and writes CoAP through <see cref="Channel"/> alone.</summary>
internal abstract class DeviceLink : IAsyncDisposable
{
    public abstract ICoapChannel Channel { get; }

    /// <summary>Lets what was sent reach the server before the link closes: a TCP half-close; nothing over UDP.</summary>
    public virtual void FinishSending()
    {
    }

    public abstract ValueTask DisposeAsync();
}

/// <summary>A Gen2 TCP connection after its handshake.</summary>
internal sealed class Gen2Link(Socket socket, Gen2Channel channel) : DeviceLink
{
    public override ICoapChannel Channel => channel;

    public override void FinishSending() => socket.Shutdown(SocketShutdown.Send);

    // The channel owns the stream, which owns the socket.
    public override ValueTask DisposeAsync() => channel.DisposeAsync();
}
