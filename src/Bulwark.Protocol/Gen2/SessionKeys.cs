using System.Security.Cryptography;

namespace Bulwark.Protocol.Gen2;

/// <summary>The 40 session bytes the server picks in the Gen2 handshake: AES key (16) ‖ IV (16) ‖ salt (8).</summary>
public sealed class SessionKeys
{
    public const int Length = 40;

    private readonly byte[] _bytes;

    private SessionKeys(byte[] bytes) => _bytes = bytes;

    /// <summary>AES-128 key, bytes 0..15.</summary>
    public ReadOnlySpan<byte> Key => _bytes.AsSpan(0, 16);

    /// <summary>Initial IV for both directions, bytes 16..31.</summary>
    public ReadOnlySpan<byte> Iv => _bytes.AsSpan(16, 16);

    /// <summary>Salt, bytes 32..39; only its first two bytes matter (the message-ID seed).</summary>
    public ReadOnlySpan<byte> Salt => _bytes.AsSpan(32, 8);

    /// <summary>
    /// The device's CoAP message-ID counter seed: the salt's first two bytes as a native little-endian uint16.
    /// The device pre-increments, so its first message (Hello) carries this + 1 (live: salt fa08.. gave 0x08fb).
    /// </summary>
    public ushort InitialMessageId => (ushort)(_bytes[32] | (_bytes[33] << 8));

    /// <summary>40 fresh random bytes.</summary>
    public static SessionKeys Generate() => new(RandomNumberGenerator.GetBytes(Length));

    /// <summary>From exactly 40 bytes.</summary>
    public static SessionKeys FromBytes(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"Session keys are {Length} bytes.", nameof(bytes));
        }

        return new SessionKeys(bytes.ToArray());
    }

    public byte[] ToArray() => (byte[])_bytes.Clone();

    internal ReadOnlySpan<byte> AsSpan() => _bytes;
}
