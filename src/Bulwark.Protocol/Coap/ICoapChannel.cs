namespace Bulwark.Protocol.Coap;

/// <summary>
/// A secured, ordered-or-not stream of CoAP messages with one peer: the Gen2 TCP channel (<see cref="Gen2.Gen2Channel"/>)
/// or CoAP over DTLS datagrams (<see cref="CoapDatagramChannel"/>). The device session on either side reads and writes
/// through this and does not care which transport it has.
/// </summary>
public interface ICoapChannel : IAsyncDisposable
{
    /// <summary>True when messages travel as datagrams: confirmable messages are retransmitted and acknowledged, and
    /// the Particle protocol differs in small ways (Hello is CON and answered by an ACK, not a server Hello).</summary>
    bool IsDatagram { get; }

    /// <summary>The next CoAP message ID for a message this side originates. Thread-safe.</summary>
    ushort NextMessageId();

    /// <summary>Waits for the next message. Anything the peer sends yields a result (never an exception); throws only
    /// on cancellation or local I/O failure.</summary>
    ValueTask<CoapReceiveResult> ReceiveAsync(CancellationToken cancellationToken = default);

    /// <summary>Sends one message. Throws <see cref="ArgumentException"/> when it is too large for the transport.</summary>
    ValueTask SendAsync(CoapMessage message, CancellationToken cancellationToken = default);
}

/// <summary>Why a channel produced no message.</summary>
public enum CoapChannelError
{
    None = 0,
    /// <summary>The peer closed the connection cleanly between frames, or the channel was closed locally.</summary>
    EndOfStream,
    /// <summary>Gen2: the connection ended inside a frame.</summary>
    TruncatedFrame,
    /// <summary>Gen2: a zero length prefix (AES-CBC with PKCS#7 never produces an empty ciphertext).</summary>
    EmptyFrame,
    /// <summary>Gen2: the length is not a multiple of the 16-byte AES block.</summary>
    LengthNotBlockMultiple,
    /// <summary>Gen2: the length exceeds the configured maximum.</summary>
    FrameTooLarge,
    /// <summary>Gen2: the decrypted frame does not end in valid PKCS#7 padding (wrong key or IV, or tampering).</summary>
    BadPadding,
    /// <summary>The frame or datagram decrypted but is not a valid CoAP message (the channel stays usable).</summary>
    MalformedCoap,
    /// <summary>Gen2: an earlier receive was cancelled or failed mid-frame, so framing is lost.</summary>
    Interrupted,
    /// <summary>Datagrams: a confirmable message was retransmitted until the limit without an acknowledgement.</summary>
    PeerUnreachable,
}

/// <summary>One received message, or why there is none.</summary>
public readonly record struct CoapReceiveResult(CoapMessage? Message, CoapChannelError Error, CoapDecodeError CoapError)
{
    public bool Succeeded => Message is not null;

    public override string ToString() => Message?.ToString() ?? (CoapError == CoapDecodeError.None ? Error.ToString() : $"{Error} ({CoapError})");
}
