using System.Net;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// One device association on the server, found by its 8-byte CID whatever address it writes from. Lives from the
/// cookie-verified ClientHello until it expires or the gateway forgets it (KeyChange forces a new handshake).
/// </summary>
public sealed class DtlsSession
{
    internal DtlsSession(byte[] connectionId, IPEndPoint remote, DateTimeOffset now)
    {
        ConnectionId = connectionId;
        RemoteEndPoint = remote;
        CreatedAt = now;
        LastActivity = now;
    }

    /// <summary>The CID this server issued; the device puts it on every protected record.</summary>
    public byte[] ConnectionId { get; }

    /// <summary>Where the device last wrote from (moves with NAT rebinding or a new port after restoring a session).</summary>
    public IPEndPoint RemoteEndPoint { get; internal set; }

    public DateTimeOffset CreatedAt { get; }

    public DateTimeOffset LastActivity { get; internal set; }

    public bool IsEstablished { get; internal set; }

    /// <summary>The device key the handshake verified, with the caller's identity for it.</summary>
    public DtlsRegisteredKey? RegisteredKey { get; internal set; }

    /// <summary>Free for the gateway (e.g. its per-device connection state).</summary>
    public object? Tag { get; set; }

    internal Lock Gate { get; } = new();

    internal DtlsRecordLayer Layer { get; } = new();

    internal DtlsServerHandshake? Handshake { get; set; }

    internal byte[] ClientRandom { get; set; } = [];

    internal DateTimeOffset NextRetransmit { get; set; }

    internal bool LookupStarted { get; set; }

    /// <summary>Epoch-1 records that arrived before the keys to read them.</summary>
    internal List<(DtlsRecord Record, IPEndPoint From)> FutureRecords { get; } = [];

    internal TimeSpan RetransmitTimeout { get; set; }

    internal ulong CidKey => BitConverter.ToUInt64(ConnectionId);
}
