using System.Security.Cryptography;
using System.Text;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Fleet;

/// <summary>The server key a device needs, and the address a key blob may carry.</summary>
public sealed record ServerKeyInfo(ServerPublicKey Key, string? Host, int? Port);

/// <summary>Reads the cloud's TCP public key from PEM, SPKI DER, or the 512-byte server key blob (<c>bulwark keys server</c>).</summary>
public static class ServerKeyFile
{
    private const int RsaSpkiLength = 294;

    /// <exception cref="FormatException">The file holds none of the accepted forms.</exception>
    public static ServerKeyInfo Load(string path)
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
            return Parse(bytes);
        }
        catch (FormatException e)
        {
            throw new FormatException($"{path}: {e.Message}", e);
        }
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
