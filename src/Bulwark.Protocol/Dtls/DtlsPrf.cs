using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Protocol.Dtls;

/// <summary>The client and server write keys and implicit IVs for TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8.</summary>
public sealed record DtlsKeyBlock(byte[] ClientWriteKey, byte[] ServerWriteKey, byte[] ClientWriteIv, byte[] ServerWriteIv)
{
    public const int KeyLength = 16;
    public const int ImplicitIvLength = 4;
    public const int Length = 2 * (KeyLength + ImplicitIvLength);
}

/// <summary>The TLS 1.2 PRF (P_SHA256, RFC 5246 section 5) and the secrets derived with it.</summary>
public static class DtlsPrf
{
    public const int MasterSecretLength = 48;
    public const int VerifyDataLength = 12;
    public const int RandomLength = 32;

    /// <summary>PRF(secret, label, seed) into <paramref name="output"/>, any length.</summary>
    public static void Compute(ReadOnlySpan<byte> secret, string label, ReadOnlySpan<byte> seed, Span<byte> output)
    {
        byte[] labelSeed = [.. Encoding.ASCII.GetBytes(label), .. seed];
        Span<byte> a = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Span<byte> block = stackalloc byte[HMACSHA256.HashSizeInBytes];
        byte[] input = new byte[HMACSHA256.HashSizeInBytes + labelSeed.Length];
        labelSeed.CopyTo(input, HMACSHA256.HashSizeInBytes);

        // A(1) = HMAC(secret, label ‖ seed); each output block is HMAC(secret, A(i) ‖ label ‖ seed).
        HMACSHA256.HashData(secret, labelSeed, a);
        for (int written = 0; written < output.Length; written += block.Length)
        {
            a.CopyTo(input);
            HMACSHA256.HashData(secret, input, block);
            block[..Math.Min(block.Length, output.Length - written)].CopyTo(output[written..]);
            HMACSHA256.HashData(secret, a, a);
        }
    }

    /// <summary>master_secret = PRF(pre_master, "master secret", client_random ‖ server_random)[0..48].</summary>
    public static byte[] MasterSecret(ReadOnlySpan<byte> preMasterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        var master = new byte[MasterSecretLength];
        Compute(preMasterSecret, "master secret", [.. clientRandom, .. serverRandom], master);
        return master;
    }

    /// <summary>The key block; note the seed order is server_random ‖ client_random here (RFC 5246 6.3).</summary>
    public static DtlsKeyBlock KeyBlock(ReadOnlySpan<byte> masterSecret, ReadOnlySpan<byte> clientRandom, ReadOnlySpan<byte> serverRandom)
    {
        Span<byte> block = stackalloc byte[DtlsKeyBlock.Length];
        Compute(masterSecret, "key expansion", [.. serverRandom, .. clientRandom], block);
        const int K = DtlsKeyBlock.KeyLength;
        const int Iv = DtlsKeyBlock.ImplicitIvLength;
        return new DtlsKeyBlock(block[..K].ToArray(), block[K..(2 * K)].ToArray(), block[(2 * K)..(2 * K + Iv)].ToArray(), block[(2 * K + Iv)..].ToArray());
    }

    /// <summary>Finished verify_data = PRF(master, "client finished" | "server finished", SHA-256(handshake messages))[0..12].</summary>
    public static byte[] VerifyData(ReadOnlySpan<byte> masterSecret, bool client, ReadOnlySpan<byte> handshakeHash)
    {
        var verifyData = new byte[VerifyDataLength];
        Compute(masterSecret, client ? "client finished" : "server finished", handshakeHash, verifyData);
        return verifyData;
    }
}
