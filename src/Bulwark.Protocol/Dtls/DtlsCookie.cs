using System.Net;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// The stateless HelloVerifyRequest cookie (RFC 6347 4.2.1): HMAC-SHA256 over the client's address and port and its
/// ClientHello without the cookie, under a secret that rotates; the previous secret is still accepted so a rotation
/// does not fail handshakes in flight. Checking a cookie allocates nothing per client, so spoofed floods cost nothing.
/// </summary>
public sealed class DtlsCookie
{
    public const int Length = 32;

    private readonly TimeProvider _time;
    private readonly TimeSpan _rotation;
    private readonly Lock _lock = new();
    private byte[] _current = RandomNumberGenerator.GetBytes(32);
    private byte[] _previous = RandomNumberGenerator.GetBytes(32);
    private DateTimeOffset _rotatedAt;

    public DtlsCookie(TimeProvider time, TimeSpan rotation)
    {
        _time = time;
        _rotation = rotation;
        _rotatedAt = time.GetUtcNow();
    }

    public byte[] Create(IPEndPoint client, DtlsClientHello hello)
    {
        (byte[] current, _) = Secrets();
        return Compute(current, client, hello);
    }

    public bool IsValid(IPEndPoint client, DtlsClientHello hello)
    {
        if (hello.Cookie.Length != Length)
        {
            return false;
        }

        (byte[] current, byte[] previous) = Secrets();
        return CryptographicOperations.FixedTimeEquals(Compute(current, client, hello), hello.Cookie)
            || CryptographicOperations.FixedTimeEquals(Compute(previous, client, hello), hello.Cookie);
    }

    private static byte[] Compute(byte[] secret, IPEndPoint client, DtlsClientHello hello)
    {
        byte[] input = [.. client.Address.GetAddressBytes(), (byte)(client.Port >> 8), (byte)client.Port, .. hello.ToArrayWithoutCookie()];
        return HMACSHA256.HashData(secret, input);
    }

    private (byte[] Current, byte[] Previous) Secrets()
    {
        lock (_lock)
        {
            if (_time.GetUtcNow() - _rotatedAt >= _rotation)
            {
                _previous = _current;
                _current = RandomNumberGenerator.GetBytes(32);
                _rotatedAt = _time.GetUtcNow();
            }

            return (_current, _previous);
        }
    }
}
