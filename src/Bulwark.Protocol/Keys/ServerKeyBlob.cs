using System.Diagnostics.CodeAnalysis;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Bulwark.Protocol.Keys;

/// <summary>The decoded contents of a server key blob.</summary>
public sealed record ServerKeyBlobContents(byte[] PublicKey, string? Host, int? Port);

/// <summary>
/// The "server key" a device stores to find its cloud (device-protocol.md 3): the same layout <c>particle keys server</c>
/// writes (particle-cli <c>_formatPublicKey</c>) and the virtual device's <c>--server_key</c> file reads.
/// </summary>
/// <remarks>
/// Layout: key DER, then 0xFF to the address offset; address TLV <c>type(1) len(1) value</c> (type 0 = IPv4 in network
/// order, type 1 = domain name, not NUL-terminated); port big-endian at address offset + 66, 0xFFFF = default port;
/// everything else 0xFF.
/// </remarks>
public static class ServerKeyBlob
{
    public const int TcpLength = 512;
    public const int TcpAddressOffset = 384;
    public const int TcpPortOffset = 450;
    public const int UdpLength = 320;
    public const int UdpAddressOffset = 192;
    public const int UdpPortOffset = 258;

    /// <summary>Longest domain name a device accepts.</summary>
    public const int MaxDomainLength = 126;

    private const byte AddressTypeIPv4 = 0;
    private const byte AddressTypeDomain = 1;

    /// <summary>A 512-byte TCP (Gen2) blob from the server's RSA-2048 SPKI DER (294 bytes), host and optional port.</summary>
    public static byte[] ForTcp(ReadOnlySpan<byte> rsaPublicSpki, string? host, int? port = null)
    {
        if (rsaPublicSpki.Length != 294)
        {
            throw new ArgumentException("The TCP server key is a 294-byte RSA-2048 SubjectPublicKeyInfo.", nameof(rsaPublicSpki));
        }

        return Build(rsaPublicSpki, host, port, TcpLength, TcpAddressOffset, TcpPortOffset);
    }

    /// <summary>A 320-byte UDP (Gen3) blob from the server's P-256 SPKI DER (91 bytes), host and optional port.</summary>
    public static byte[] ForUdp(ReadOnlySpan<byte> ecPublicSpki, string? host, int? port = null)
    {
        if (ecPublicSpki.Length != 91)
        {
            throw new ArgumentException("The UDP server key is a 91-byte P-256 SubjectPublicKeyInfo.", nameof(ecPublicSpki));
        }

        return Build(ecPublicSpki, host, port, UdpLength, UdpAddressOffset, UdpPortOffset);
    }

    /// <summary>Reads a TCP (512-byte) or UDP (320-byte) blob back; false for any other size.</summary>
    public static bool TryParse(ReadOnlySpan<byte> blob, [NotNullWhen(true)] out ServerKeyBlobContents? contents)
    {
        contents = null;
        (int keyLength, int addressOffset, int portOffset) = blob.Length switch
        {
            TcpLength => (294, TcpAddressOffset, TcpPortOffset),
            UdpLength => (91, UdpAddressOffset, UdpPortOffset),
            _ => (0, 0, 0),
        };
        if (keyLength == 0)
        {
            return false;
        }

        string? host = null;
        byte type = blob[addressOffset];
        int length = blob[addressOffset + 1];
        if (type == AddressTypeIPv4 && length == 4)
        {
            host = new IPAddress(blob.Slice(addressOffset + 2, 4)).ToString();
        }
        else if (type == AddressTypeDomain && length is > 0 and <= MaxDomainLength)
        {
            host = Encoding.ASCII.GetString(blob.Slice(addressOffset + 2, length));
        }

        int port = (blob[portOffset] << 8) | blob[portOffset + 1];
        bool nameCoversPort = host is not null && type == AddressTypeDomain && addressOffset + 2 + length > portOffset;
        contents = new ServerKeyBlobContents(blob[..keyLength].ToArray(), host, port == 0xFFFF || nameCoversPort ? null : port);
        return true;
    }

    private static byte[] Build(ReadOnlySpan<byte> key, string? host, int? port, int length, int addressOffset, int portOffset)
    {
        var blob = new byte[length];
        blob.AsSpan().Fill(0xFF);
        key.CopyTo(blob);
        if (!string.IsNullOrEmpty(host))
        {
            // The port shares the tail with long domain names; without a port the whole tail (126 bytes) is the name's.
            int room = port is null ? length - addressOffset : portOffset - addressOffset;
            WriteAddress(blob.AsSpan(addressOffset, room), host);
        }

        if (port is { } value)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(port));
            ArgumentOutOfRangeException.ThrowIfGreaterThan(value, 65534, nameof(port));
            blob[portOffset] = (byte)(value >> 8);
            blob[portOffset + 1] = (byte)value;
        }

        return blob;
    }

    private static void WriteAddress(Span<byte> destination, string host)
    {
        if (IPAddress.TryParse(host, out IPAddress? address) && address.AddressFamily == AddressFamily.InterNetwork && host.Count(c => c == '.') == 3)
        {
            destination[0] = AddressTypeIPv4;
            destination[1] = 4;
            address.TryWriteBytes(destination[2..], out _);
            return;
        }

        if (host.Length > MaxDomainLength || host.Length > destination.Length - 2 || !host.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '-'))
        {
            throw new ArgumentException($"The host must be an IPv4 address or an ASCII domain name of at most {MaxDomainLength} characters.", nameof(host));
        }

        destination[0] = AddressTypeDomain;
        destination[1] = (byte)host.Length;
        Encoding.ASCII.GetBytes(host, destination[2..]);
    }
}
