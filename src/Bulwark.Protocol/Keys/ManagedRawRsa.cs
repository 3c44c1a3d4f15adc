using System.Numerics;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

// Raw (unpadded) RSA with BigInteger: the portable fallback when libcrypto cannot be called. About 24x slower.
internal static class ManagedRawRsa
{
    /// <summary>m = c^d mod n via the CRT, checked with the public exponent to refuse a faulty result.</summary>
    public static void PrivateOperation(RSAParameters key, ReadOnlySpan<byte> input, Span<byte> output)
    {
        BigInteger n = ToInteger(key.Modulus!);
        BigInteger c = new(input, isUnsigned: true, isBigEndian: true);
        if (c >= n)
        {
            throw new CryptographicException("RSA input is not smaller than the modulus.");
        }

        BigInteger p = ToInteger(key.P!);
        BigInteger q = ToInteger(key.Q!);
        BigInteger m1 = BigInteger.ModPow(c, ToInteger(key.DP!), p);
        BigInteger m2 = BigInteger.ModPow(c, ToInteger(key.DQ!), q);
        BigInteger h = ToInteger(key.InverseQ!) * (m1 - m2) % p;
        if (h.Sign < 0)
        {
            h += p;
        }

        BigInteger m = m2 + (h * q);
        // A CRT fault would leak a factor of n; re-encrypting costs one cheap public operation.
        if (BigInteger.ModPow(m, ToInteger(key.Exponent!), n) != c)
        {
            throw new CryptographicException("RSA private operation self-check failed.");
        }

        WriteFixed(m, output);
    }

    /// <summary>c^e mod n, written to exactly output.Length bytes; false when the input is not below the modulus.</summary>
    public static bool TryPublicOperation(ReadOnlySpan<byte> modulus, ReadOnlySpan<byte> exponent, ReadOnlySpan<byte> input, Span<byte> output)
    {
        BigInteger n = new(modulus, isUnsigned: true, isBigEndian: true);
        BigInteger c = new(input, isUnsigned: true, isBigEndian: true);
        if (c >= n || n.IsZero)
        {
            return false;
        }

        WriteFixed(BigInteger.ModPow(c, new BigInteger(exponent, isUnsigned: true, isBigEndian: true), n), output);
        return true;
    }

    private static BigInteger ToInteger(byte[] bytes) => new(bytes, isUnsigned: true, isBigEndian: true);

    private static void WriteFixed(BigInteger value, Span<byte> output)
    {
        int length = value.GetByteCount(isUnsigned: true);
        output.Clear();
        value.TryWriteBytes(output[(output.Length - length)..], out _, isUnsigned: true, isBigEndian: true);
    }
}
