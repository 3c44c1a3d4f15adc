using System.Security.Cryptography;
using System.Text;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Fleet;

/// <summary>The server key a Gen2 device needs, and the address a key blob may carry.</summary>
public sealed record ServerKeyInfo(ServerPublicKey Key, string? Host, int? Port);

/// <summary>The server EC P-256 key a Gen3 device needs (SubjectPublicKeyInfo DER, 91 bytes), and the address a UDP key
/// blob may carry.</summary>
public sealed record ServerEcKeyInfo(byte[] Spki, string? Host, int? Port);

/// <summary>
/// Reads the cloud's public key as a device holds it: for TCP the RSA-2048 key from PEM, SPKI DER or the 512-byte server
/// key blob; for UDP the EC P-256 key from PEM, SPKI DER or the 320-byte blob (<c>bulwark keys server</c>, or the PEM of
/// <c>GET /v1/keys/server?protocol=udp</c>).
/// </summary>
public static class ServerKeyFile
{
    private const int RsaSpkiLength = 294;
    private const int EcSpkiLength = 91;

    /// <exception cref="FormatException">The file holds none of the accepted TCP forms.</exception>
    public static ServerKeyInfo Load(string path) => Load(path, bytes => Parse(bytes));

    /// <exception cref="FormatException">The file holds none of the accepted UDP forms.</exception>
    public static ServerEcKeyInfo LoadEc(string path) => Load(path, bytes => ParseEc(bytes));

    private static T Load<T>(string path, Func<byte[], T> parse)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new FormatException($"Cannot read the server key {path}: {e.Message}", e);
        }

        try
        {
            return parse(bytes);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
    }

    public static ServerEcKeyInfo ParseEc(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (DeviceIdentity.LooksLikePem(bytes))
            {
                using var pem = ECDsa.Create();
                pem.ImportFromPem(Encoding.ASCII.GetString(bytes));
                return new ServerEcKeyInfo(CheckP256(pem.ExportSubjectPublicKeyInfo()), null, null);
            }

            if (bytes.Length == ServerKeyBlob.TcpLength)
            {
                throw new FormatException("This is a TCP (RSA-2048) server key blob; UDP devices need the UDP (EC P-256) one.");
            }

            if (bytes.Length == ServerKeyBlob.UdpLength && ServerKeyBlob.TryParse(bytes, out ServerKeyBlobContents? blob))
            {
                return new ServerEcKeyInfo(CheckP256(blob.PublicKey), blob.Host, blob.Port);
            }

            if (bytes.Length == EcSpkiLength)
            {
                return new ServerEcKeyInfo(CheckP256(bytes.ToArray()), null, null);
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new FormatException($"Not a usable EC P-256 server public key: {e.Message}", e);
        }

        throw new FormatException($"Not a UDP server key: expected PEM, a {EcSpkiLength}-byte EC P-256 SubjectPublicKeyInfo, or a {ServerKeyBlob.UdpLength}-byte server key blob ({bytes.Length} bytes).");
    }

    private static byte[] CheckP256(byte[] spki)
    {
        using var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(spki, out int read);
        if (read != spki.Length || key.KeySize != 256)
        {
            throw new FormatException("The server key is not an EC P-256 SubjectPublicKeyInfo.");
        }

        return spki;
    }

    public static ServerKeyInfo Parse(ReadOnlySpan<byte> bytes)
    {
        try
        {
            if (DeviceIdentity.LooksLikePem(bytes))
            {
                return new ServerKeyInfo(ServerPublicKey.FromPem(Encoding.ASCII.GetString(bytes)), null, null);
            }

            if (bytes.Length == ServerKeyBlob.UdpLength)
            {
                throw new FormatException("This is a UDP (EC P-256) server key blob; Gen2 devices need the TCP (RSA-2048) one.");
            }

            if (ServerKeyBlob.TryParse(bytes, out ServerKeyBlobContents? blob))
            {
                return new ServerKeyInfo(ServerPublicKey.FromSpki(blob.PublicKey), blob.Host, blob.Port);
            }

            if (bytes.Length == RsaSpkiLength)
            {
                using RSA rsa = RSA.Create();
                rsa.ImportSubjectPublicKeyInfo(bytes, out _);
                return new ServerKeyInfo(ServerPublicKey.FromSpki(bytes), null, null);
            }
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new FormatException($"Not a usable RSA-2048 server public key: {e.Message}", e);
        }

        throw new FormatException($"Not a server key: expected PEM, a {RsaSpkiLength}-byte RSA-2048 SubjectPublicKeyInfo, or a {ServerKeyBlob.TcpLength}-byte server key blob ({bytes.Length} bytes).");
    }
}
