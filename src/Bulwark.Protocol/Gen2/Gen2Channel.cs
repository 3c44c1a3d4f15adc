using System.Buffers;
using System.Buffers.Binary;
using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Gen2;

/// <summary>Limits for a <see cref="Gen2Channel"/>.</summary>
public sealed record Gen2ChannelOptions
{
    /// <summary>The largest encrypted frame a Device OS device accepts (1152 - 18); larger ones drop the connection.</summary>
    public const int DeviceMaxFrameLength = 1134;

    /// <summary>Largest ciphertext accepted from the peer. Bounds memory per frame; well above the device's 1152-byte buffer.</summary>
    public int MaxIncomingFrameLength { get; init; } = 2048;

    /// <summary>Largest ciphertext we send; sending a larger message throws instead of letting the device drop us.</summary>
    public int MaxOutgoingFrameLength { get; init; } = DeviceMaxFrameLength;
}

/// <summary>
/// The encrypted Gen2 message channel over a stream: each CoAP message travels as uint16 BE length ‖ AES-128-CBC ciphertext,
/// with a separate IV chain per direction (device-protocol.md 1.3).
/// </summary>
/// <remarks>
/// One reader at a time; any number of concurrent senders (sends are serialised so the IV chain matches wire order).
/// A frame-level error faults the receive side for good, since the IV chain can no longer be trusted.
/// </remarks>
public sealed class Gen2Channel : ICoapChannel, IDisposable
{
    private const int LengthPrefix = 2;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Gen2ChannelOptions _options;
    private readonly Gen2FrameCipher _receiveCipher;
    private readonly Gen2FrameCipher _sendCipher;
    private readonly SemaphoreSlim _sendLock = new(1, 1);
    private readonly byte[] _header = new byte[LengthPrefix];
    private int _messageIdCounter;
    private int _receiving;
    private CoapChannelError _receiveFault;
    private bool _sendFaulted;

    public Gen2Channel(Stream stream, SessionKeys keys, Gen2ChannelOptions? options = null, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(keys);
        _stream = stream;
        _leaveOpen = leaveOpen;
        _options = options ?? new Gen2ChannelOptions();
        // Both directions start from the same IV and then chain independently.
        _receiveCipher = new Gen2FrameCipher(keys.Key, keys.Iv);
        _sendCipher = new Gen2FrameCipher(keys.Key, keys.Iv);
        _messageIdCounter = keys.InitialMessageId;
    }

    /// <summary>Gen2 is a byte stream: messages arrive in order and nothing is retransmitted.</summary>
    public bool IsDatagram => false;

    /// <summary>The next CoAP message ID: salt-seeded and pre-incremented, as on the device. Thread-safe.</summary>
    public ushort NextMessageId() => (ushort)Interlocked.Increment(ref _messageIdCounter);

    /// <summary>Reads one frame. Returns an error result (never throws) for anything the peer sends; throws on cancellation or I/O failure.</summary>
    public async ValueTask<CoapReceiveResult> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _receiving, 1) != 0)
        {
            throw new InvalidOperationException("Only one ReceiveAsync may run at a time.");
        }

        try
        {
            if (_receiveFault != CoapChannelError.None)
            {
                return new CoapReceiveResult(null, _receiveFault, CoapDecodeError.None);
            }

            CoapReceiveResult result;
            try
            {
                result = await ReceiveFrameAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                _receiveFault = CoapChannelError.Interrupted;
                throw;
            }

            if (result.Error is not (CoapChannelError.None or CoapChannelError.MalformedCoap))
            {
                _receiveFault = result.Error;
            }

            return result;
        }
        finally
        {
            Volatile.Write(ref _receiving, 0);
        }
    }

    /// <summary>Encrypts and writes one message. Throws <see cref="ArgumentException"/> if it would exceed the outgoing frame limit.</summary>
    public async ValueTask SendAsync(CoapMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        int plaintextLength = message.GetEncodedLength();
        int ciphertextLength = Gen2FrameCipher.GetCiphertextLength(plaintextLength);
        if (ciphertextLength > _options.MaxOutgoingFrameLength)
        {
            throw new ArgumentException($"Message encrypts to {ciphertextLength} bytes; the limit is {_options.MaxOutgoingFrameLength}. Use blockwise transfer.", nameof(message));
        }

        byte[] plaintext = ArrayPool<byte>.Shared.Rent(plaintextLength);
        byte[] frame = ArrayPool<byte>.Shared.Rent(LengthPrefix + ciphertextLength);
        await _sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(_sendFaulted, this);
            message.TryEncode(plaintext, out _);
            int written = _sendCipher.Encrypt(plaintext.AsSpan(0, plaintextLength), frame.AsSpan(LengthPrefix, ciphertextLength));
            BinaryPrimitives.WriteUInt16BigEndian(frame, (ushort)written);
            try
            {
                await _stream.WriteAsync(frame.AsMemory(0, LengthPrefix + written), cancellationToken).ConfigureAwait(false);
                await _stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                // The IV already advanced; a partial write leaves the peer's chain out of step for good.
                _sendFaulted = true;
                throw;
            }
        }
        finally
        {
            _sendLock.Release();
            ArrayPool<byte>.Shared.Return(plaintext);
            ArrayPool<byte>.Shared.Return(frame);
        }
    }

    private async ValueTask<CoapReceiveResult> ReceiveFrameAsync(CancellationToken cancellationToken)
    {
        int headerRead = await _stream.ReadAtLeastAsync(_header, LengthPrefix, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (headerRead == 0)
        {
            return Failed(CoapChannelError.EndOfStream);
        }

        if (headerRead < LengthPrefix)
        {
            return Failed(CoapChannelError.TruncatedFrame);
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(_header);
        CoapChannelError lengthError = CheckFrameLength(length, _options.MaxIncomingFrameLength);
        if (lengthError != CoapChannelError.None)
        {
            return Failed(lengthError);
        }

        byte[] ciphertext = ArrayPool<byte>.Shared.Rent(length);
        try
        {
            int read = await _stream.ReadAtLeastAsync(ciphertext.AsMemory(0, length), length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
            if (read < length)
            {
                return Failed(CoapChannelError.TruncatedFrame);
            }

            return DecodeFrame(_receiveCipher, ciphertext.AsSpan(0, length));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(ciphertext);
        }
    }

    /// <summary>Checks a frame's length prefix before reading its body.</summary>
    internal static CoapChannelError CheckFrameLength(int length, int maxLength) =>
        length == 0 ? CoapChannelError.EmptyFrame
        : length > maxLength ? CoapChannelError.FrameTooLarge
        : length % Gen2FrameCipher.BlockLength != 0 ? CoapChannelError.LengthNotBlockMultiple
        : CoapChannelError.None;

    /// <summary>Decrypts and decodes one frame body. The message owns a fresh array sized to the frame, so the pooled ciphertext can go back.</summary>
    internal static CoapReceiveResult DecodeFrame(Gen2FrameCipher cipher, ReadOnlySpan<byte> ciphertext)
    {
        var plaintext = new byte[ciphertext.Length];
        if (!cipher.TryDecrypt(ciphertext, plaintext, out int plaintextLength, out CoapChannelError error))
        {
            return Failed(error);
        }

        return CoapMessage.TryDecode(plaintext.AsMemory(0, plaintextLength), out CoapMessage? message, out CoapDecodeError coapError)
            ? new CoapReceiveResult(message, CoapChannelError.None, CoapDecodeError.None)
            : new CoapReceiveResult(null, CoapChannelError.MalformedCoap, coapError);
    }

    private static CoapReceiveResult Failed(CoapChannelError error) => new(null, error, CoapDecodeError.None);

    public void Dispose()
    {
        if (!_leaveOpen)
        {
            _stream.Dispose();
        }

        _receiveCipher.Dispose();
        _sendCipher.Dispose();
        _sendLock.Dispose();
    }

    public async ValueTask DisposeAsync()
    {
        if (!_leaveOpen)
        {
            await _stream.DisposeAsync().ConfigureAwait(false);
        }

        _receiveCipher.Dispose();
        _sendCipher.Dispose();
        _sendLock.Dispose();
    }
}
