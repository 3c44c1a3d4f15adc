using System.Security.Cryptography;
using Bulwark.Protocol.Keys;

namespace Bulwark.Protocol.Gen2;

/// <summary>Why the device side of the handshake failed.</summary>
public enum Gen2DeviceHandshakeError
{
    None = 0,
    ConnectionClosed,
    Timeout,
    /// <summary>The first 128 bytes of the reply did not decrypt under the device key.</summary>
    UndecryptableSessionKeys,
    /// <summary>The session-key plaintext was not exactly 40 bytes (Device OS insists).</summary>
    BadSessionKeyLength,
    /// <summary>The signature did not verify under the server key: wrong server or tampered reply.</summary>
    BadSignature,
}

/// <summary>Outcome of <see cref="Gen2DeviceHandshake.RunAsync"/>.</summary>
public sealed record Gen2DeviceHandshakeResult(SessionKeys? SessionKeys, Gen2DeviceHandshakeError Error)
{
    public bool Succeeded => Error == Gen2DeviceHandshakeError.None;
}

/// <summary>The device side of the Gen2 handshake, as Device OS runs it; used by the simulator and tests.</summary>
public sealed class Gen2DeviceHandshake
{
    private readonly DevicePrivateKey _deviceKey;
    private readonly DeviceId _deviceId;
    private readonly ServerPublicKey _serverKey;
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _timeProvider;

    public Gen2DeviceHandshake(DevicePrivateKey deviceKey, DeviceId deviceId, ServerPublicKey serverKey, TimeSpan? timeout = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(deviceKey);
        ArgumentNullException.ThrowIfNull(serverKey);
        _deviceKey = deviceKey;
        _deviceId = deviceId;
        _serverKey = serverKey;
        _timeout = timeout ?? Gen2ServerHandshake.DefaultTimeout;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Reads the nonce, sends the identification, and verifies the server's reply.</summary>
    public async Task<Gen2DeviceHandshakeResult> RunAsync(Stream stream, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var timeout = new CancellationTokenSource(_timeout, _timeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        try
        {
            var nonce = new byte[Gen2ServerHandshake.NonceLength];
            await stream.ReadExactlyAsync(nonce, linked.Token).ConfigureAwait(false);
            await stream.WriteAsync(CreateIdentification(nonce), linked.Token).ConfigureAwait(false);
            await stream.FlushAsync(linked.Token).ConfigureAwait(false);
            var reply = new byte[Gen2ServerHandshake.ReplyLength];
            await stream.ReadExactlyAsync(reply, linked.Token).ConfigureAwait(false);
            return TryAcceptReply(reply, out SessionKeys? keys, out Gen2DeviceHandshakeError error)
                ? new Gen2DeviceHandshakeResult(keys, Gen2DeviceHandshakeError.None)
                : new Gen2DeviceHandshakeResult(null, error);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            return new Gen2DeviceHandshakeResult(null, Gen2DeviceHandshakeError.Timeout);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or ObjectDisposedException)
        {
            return new Gen2DeviceHandshakeResult(null, Gen2DeviceHandshakeError.ConnectionClosed);
        }
    }

    /// <summary>RSA-PKCS#1 encryption under the server key of nonce(40) ‖ device ID(12) ‖ device SPKI(162): 256 bytes.</summary>
    public byte[] CreateIdentification(ReadOnlySpan<byte> nonce)
    {
        if (nonce.Length != Gen2ServerHandshake.NonceLength)
        {
            throw new ArgumentException($"The nonce is {Gen2ServerHandshake.NonceLength} bytes.", nameof(nonce));
        }

        Span<byte> plaintext = stackalloc byte[Gen2DeviceIdentification.Length];
        nonce.CopyTo(plaintext);
        _deviceId.WriteTo(plaintext[Gen2ServerHandshake.NonceLength..]);
        _deviceKey.PublicKey.ToDeviceSpki().CopyTo(plaintext[(Gen2ServerHandshake.NonceLength + DeviceId.Length)..]);
        return _serverKey.Encrypt(plaintext);
    }

    /// <summary>Decrypts the session keys and verifies the signature over their HMAC; never throws on hostile input.</summary>
    public bool TryAcceptReply(ReadOnlySpan<byte> reply, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out SessionKeys? keys, out Gen2DeviceHandshakeError error)
    {
        keys = null;
        if (reply.Length != Gen2ServerHandshake.ReplyLength)
        {
            error = Gen2DeviceHandshakeError.UndecryptableSessionKeys;
            return false;
        }

        ReadOnlySpan<byte> ciphertext = reply[..DevicePublicKey.ModulusLength];
        Span<byte> plaintext = stackalloc byte[DevicePublicKey.ModulusLength];
        if (!_deviceKey.TryDecrypt(ciphertext, plaintext, out int length))
        {
            error = Gen2DeviceHandshakeError.UndecryptableSessionKeys;
            return false;
        }

        if (length != SessionKeys.Length)
        {
            error = Gen2DeviceHandshakeError.BadSessionKeyLength;
            return false;
        }

        Span<byte> hmac = stackalloc byte[HMACSHA1.HashSizeInBytes];
        HMACSHA1.HashData(plaintext[..length], ciphertext, hmac);
        if (!_serverKey.VerifyPkcs1Type1(reply[DevicePublicKey.ModulusLength..], hmac))
        {
            error = Gen2DeviceHandshakeError.BadSignature;
            return false;
        }

        keys = SessionKeys.FromBytes(plaintext[..length]);
        error = Gen2DeviceHandshakeError.None;
        return true;
    }
}
