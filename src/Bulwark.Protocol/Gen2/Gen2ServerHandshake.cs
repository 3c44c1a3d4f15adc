using System.Security.Cryptography;
using Bulwark.Protocol.Keys;

namespace Bulwark.Protocol.Gen2;

/// <summary>Looks up a device's registered public key; null when the device is not known. Cache parsed keys.</summary>
public delegate ValueTask<DevicePublicKey?> DeviceKeyLookup(DeviceId deviceId, CancellationToken cancellationToken);

/// <summary>
/// The cloud side of the Gen2 "LightSSL" handshake (device-protocol.md 1.2), byte-exact with Device OS:
/// nonce(40) out; RSA-2048 PKCS#1 identification(256) in; RSA-1024 PKCS#1 session keys(128) ‖ type 1 signature(256) out.
/// </summary>
/// <remarks>One instance serves any number of concurrent connections.</remarks>
public sealed class Gen2ServerHandshake
{
    public const int NonceLength = 40;

    /// <summary>The device's encrypted identification: one RSA-2048 block.</summary>
    public const int IdentificationLength = ServerPrivateKey.ModulusLength;

    /// <summary>Session-key ciphertext (128) plus signature (256).</summary>
    public const int ReplyLength = DevicePublicKey.ModulusLength + ServerPrivateKey.ModulusLength;

    /// <summary>Default bound on the whole exchange; the device itself waits 20 s for the nonce.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private readonly ServerPrivateKey _serverKey;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _timeProvider;

    public Gen2ServerHandshake(ServerPrivateKey serverKey, TimeSpan? timeout = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(serverKey);
        _serverKey = serverKey;
        _timeout = timeout ?? DefaultTimeout;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>
    /// Runs the handshake on a freshly accepted connection. Returns a refusal rather than throwing for anything the
    /// device does; throws only when <paramref name="cancellationToken"/> is cancelled or <paramref name="lookup"/> throws.
    /// On refusal the caller should close the connection.
    /// </summary>
    public async Task<Gen2ServerHandshakeResult> RunAsync(Stream stream, DeviceKeyLookup lookup, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(lookup);
        using var timeout = new CancellationTokenSource(_timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        byte[] nonce = RandomNumberGenerator.GetBytes(NonceLength);
        var identification = new byte[IdentificationLength];
        try
        {
            await stream.WriteAsync(nonce, linked.Token).ConfigureAwait(false);
            await stream.FlushAsync(linked.Token).ConfigureAwait(false);
            await stream.ReadExactlyAsync(identification, linked.Token).ConfigureAwait(false);

            if (!TryOpenIdentification(identification, nonce, out DeviceId deviceId, out byte[] presentedSpki, out Gen2HandshakeRefusal refusal))
            {
                return Gen2ServerHandshakeResult.Refused(refusal);
            }

            DevicePublicKey.TryFromDeviceSpki(presentedSpki, out DevicePublicKey? presentedKey);
            DevicePublicKey? registered = await lookup(deviceId, linked.Token).ConfigureAwait(false);
            if (registered is null)
            {
                return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.UnknownDevice, deviceId, presentedKey);
            }

            // Brewskey compares the trailing key too; accepting any key for a known ID would let anyone who learns
            // an ID impersonate it, since the session keys go to the *registered* key and only the device can read them.
            if (!registered.MatchesDeviceSpki(presentedSpki))
            {
                return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.KeyMismatch, deviceId, presentedKey);
            }

            SessionKeys keys = SessionKeys.Generate();
            byte[] reply = CreateReply(registered, keys);
            await stream.WriteAsync(reply, linked.Token).ConfigureAwait(false);
            await stream.FlushAsync(linked.Token).ConfigureAwait(false);
            return Gen2ServerHandshakeResult.Success(deviceId, keys, registered);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.Timeout);
        }
        catch (EndOfStreamException)
        {
            return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.ConnectionClosed);
        }
        catch (IOException)
        {
            return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.ConnectionClosed);
        }
        catch (ObjectDisposedException)
        {
            return Gen2ServerHandshakeResult.Refused(Gen2HandshakeRefusal.ConnectionClosed);
        }
    }

    /// <summary>Decrypts the device's 256 bytes and checks the nonce; never throws on hostile input.</summary>
    public bool TryOpenIdentification(
        ReadOnlySpan<byte> ciphertext,
        ReadOnlySpan<byte> nonce,
        out DeviceId deviceId,
        out byte[] presentedSpki,
        out Gen2HandshakeRefusal refusal)
    {
        deviceId = default;
        presentedSpki = [];
        Span<byte> plaintext = stackalloc byte[ServerPrivateKey.ModulusLength];
        if (!_serverKey.TryDecrypt(ciphertext, plaintext, out int length))
        {
            refusal = Gen2HandshakeRefusal.Garbage;
            return false;
        }

        if (!TryParseIdentification(plaintext[..length], nonce, out Gen2DeviceIdentification identification, out refusal))
        {
            return false;
        }

        deviceId = identification.DeviceId;
        presentedSpki = identification.PresentedSpki.ToArray();
        return true;
    }

    /// <summary>Splits a decrypted identification (nonce ‖ ID ‖ SPKI) and checks the nonce; pure and allocation-free.</summary>
    public static bool TryParseIdentification(
        ReadOnlySpan<byte> plaintext,
        ReadOnlySpan<byte> nonce,
        out Gen2DeviceIdentification identification,
        out Gen2HandshakeRefusal refusal)
    {
        identification = default;
        if (plaintext.Length != Gen2DeviceIdentification.Length)
        {
            refusal = Gen2HandshakeRefusal.Garbage;
            return false;
        }

        if (nonce.Length != NonceLength || !CryptographicOperations.FixedTimeEquals(plaintext[..NonceLength], nonce))
        {
            refusal = Gen2HandshakeRefusal.BadNonce;
            return false;
        }

        identification = new Gen2DeviceIdentification(
            DeviceId.FromBytes(plaintext.Slice(NonceLength, DeviceId.Length)),
            plaintext[(NonceLength + DeviceId.Length)..]);
        refusal = Gen2HandshakeRefusal.None;
        return true;
    }

    /// <summary>The 384-byte reply: session keys encrypted to the device, then the signed HMAC over that ciphertext.</summary>
    public byte[] CreateReply(DevicePublicKey deviceKey, SessionKeys keys)
    {
        ArgumentNullException.ThrowIfNull(deviceKey);
        ArgumentNullException.ThrowIfNull(keys);
        return CreateReply(deviceKey.Encrypt(keys.AsSpan()), keys);
    }

    // Deterministic once the (randomly padded) ciphertext is fixed, which is what the fixed test vectors pin down.
    internal byte[] CreateReply(ReadOnlySpan<byte> sessionCiphertext, SessionKeys keys)
    {
        if (sessionCiphertext.Length != DevicePublicKey.ModulusLength)
        {
            throw new ArgumentException("Session ciphertext is one RSA-1024 block.", nameof(sessionCiphertext));
        }

        var reply = new byte[ReplyLength];
        sessionCiphertext.CopyTo(reply);
        Span<byte> hmac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        HMACSHA1.HashData(keys.AsSpan(), sessionCiphertext, hmac);
        _serverKey.SignPkcs1Type1(hmac, reply.AsSpan(DevicePublicKey.ModulusLength));
        return reply;
    }
}
