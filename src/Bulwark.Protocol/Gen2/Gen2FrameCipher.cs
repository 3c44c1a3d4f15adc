using System.Security.Cryptography;
using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Gen2;

/// <summary>
/// One direction of the Gen2 AES-128-CBC channel (device-protocol.md 1.3): each message is its own CBC run with
/// PKCS#7, and the next IV is the <em>first</em> 16 bytes of the previous ciphertext in that direction.
/// </summary>
/// <remarks>Not thread-safe: the IV chain is inherently sequential. Use one instance per direction.</remarks>
public sealed class Gen2FrameCipher : IDisposable
{
    public const int BlockLength = 16;

    private readonly Aes _aes;
    private readonly byte[] _iv = new byte[BlockLength];

    public Gen2FrameCipher(ReadOnlySpan<byte> key, ReadOnlySpan<byte> iv)
    {
        if (key.Length != 16 || iv.Length != BlockLength)
        {
            throw new ArgumentException("Gen2 uses a 16-byte AES-128 key and a 16-byte IV.");
        }

        _aes = Aes.Create();
        _aes.Key = key.ToArray();
        iv.CopyTo(_iv);
    }

    /// <summary>The IV the next message in this direction will use.</summary>
    public ReadOnlySpan<byte> CurrentIv => _iv;

    /// <summary>Ciphertext length for a plaintext: PKCS#7 always adds 1..16 bytes.</summary>
    public static int GetCiphertextLength(int plaintextLength) => ((plaintextLength / BlockLength) + 1) * BlockLength;

    /// <summary>Encrypts one message and advances the IV chain; returns the ciphertext length.</summary>
    public int Encrypt(ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        int written = _aes.EncryptCbc(plaintext, _iv, ciphertext, PaddingMode.PKCS7);
        ciphertext[..BlockLength].CopyTo(_iv);
        return written;
    }

    /// <summary>
    /// Decrypts one frame into <paramref name="plaintext"/> (at least the ciphertext's length) and advances the IV chain.
    /// Never throws on hostile input. The IV advances even when the padding is bad, as on the device.
    /// </summary>
    public bool TryDecrypt(ReadOnlySpan<byte> ciphertext, Span<byte> plaintext, out int plaintextLength, out CoapChannelError error)
    {
        plaintextLength = 0;
        if (ciphertext.IsEmpty)
        {
            error = CoapChannelError.EmptyFrame;
            return false;
        }

        if (ciphertext.Length % BlockLength != 0)
        {
            error = CoapChannelError.LengthNotBlockMultiple;
            return false;
        }

        if (plaintext.Length < ciphertext.Length)
        {
            throw new ArgumentException("The plaintext buffer must be at least as long as the ciphertext.", nameof(plaintext));
        }

        // Take the next IV before decrypting, in case the caller decrypts in place.
        Span<byte> nextIv = stackalloc byte[BlockLength];
        ciphertext[..BlockLength].CopyTo(nextIv);
        int written = _aes.DecryptCbc(ciphertext, _iv, plaintext, PaddingMode.None);
        nextIv.CopyTo(_iv);

        int padding = plaintext[written - 1];
        if (padding is < 1 or > BlockLength || !AllEqual(plaintext.Slice(written - padding, padding), (byte)padding))
        {
            error = CoapChannelError.BadPadding;
            return false;
        }

        plaintextLength = written - padding;
        error = CoapChannelError.None;
        return true;
    }

    public void Dispose() => _aes.Dispose();

    private static bool AllEqual(ReadOnlySpan<byte> span, byte value) => span.IndexOfAnyExcept(value) < 0;
}
