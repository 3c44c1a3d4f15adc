using Bulwark.Protocol.Keys;
using static Bulwark.Protocol.Tests.TestVectors;

namespace Bulwark.Protocol.Tests;

public class RsaKeyTests
{
    [Fact]
    public void Device_spki_matches_openssl_der_and_the_device_layout()
    {
        using DevicePrivateKey key = DevicePrivateKey.FromPem(DevicePrivateKeyPem);
        byte[] spki = key.PublicKey.ToDeviceSpki();
        Assert.Equal(DevicePublicSpkiHex, Convert.ToHexStringLower(spki));
        Assert.Equal(162, spki.Length);
        Assert.Equal("30819f300d06092a864886f70d010101050003818d0030818902818100", Convert.ToHexStringLower(spki.AsSpan(0, 29)));
        Assert.Equal("0203010001", Convert.ToHexStringLower(spki.AsSpan(157)));
    }

    [Fact]
    public void Device_key_round_trips_through_pkcs1_der_within_the_slot_size()
    {
        using DevicePrivateKey key = DevicePrivateKey.FromPem(DevicePrivateKeyPem);
        byte[] der = key.ExportPkcs1Der();
        Assert.True(der.Length <= DevicePrivateKey.MaxDerLength);
        Assert.Equal(0x30, der[0]);
        using DevicePrivateKey reloaded = DevicePrivateKey.FromDer(der);
        Assert.True(reloaded.PublicKey.MatchesDeviceSpki(Bytes(DevicePublicSpkiHex)));
    }

    [Fact]
    public void Device_public_key_parses_from_every_form()
    {
        byte[] spki = Bytes(DevicePublicSpkiHex);
        Assert.True(DevicePublicKey.TryFromDeviceSpki(spki, out DevicePublicKey? fromDevice));
        Assert.True(DevicePublicKey.FromDer(spki).MatchesDeviceSpki(spki));
        Assert.True(DevicePublicKey.FromPem(fromDevice.ToPem()).MatchesDeviceSpki(spki));
        Assert.True(DevicePublicKey.FromPem(DevicePrivateKeyPem).MatchesDeviceSpki(spki));
        spki[0] ^= 1;
        Assert.False(DevicePublicKey.TryFromDeviceSpki(spki, out _));
    }

    [Fact]
    public void Server_spki_is_294_bytes_with_the_modulus_at_offset_33()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        Assert.Equal(ServerPublicSpkiHex, Convert.ToHexStringLower(key.PublicKeySpki));
        Assert.Equal(294, key.PublicKeySpki.Length);
        ServerPublicKey devicesView = ServerPublicKey.FromSpki(key.PublicKeySpki);
        Assert.Equal(key.PublicKeySpki.AsSpan(33, 256).ToArray(), devicesView.Modulus.ToArray());
        Assert.Equal("0203010001", Convert.ToHexStringLower(key.PublicKeySpki.AsSpan(289)));
    }

    [Fact]
    public void Type1_signature_equals_openssl_pkeyutl_byte_for_byte()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        var signature = new byte[256];
        key.SignPkcs1Type1(Bytes(SessionHmacHex), signature);
        Assert.Equal(SessionSignatureHex, Convert.ToHexStringLower(signature));
    }

    [Fact]
    public void Libcrypto_is_used_on_this_platform()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        Assert.True(key.UsesNativeSigner, "libcrypto.so.3 should load on Linux; the BigInteger path is the fallback only.");
    }

    [Fact]
    public void Managed_fallback_gives_identical_bytes_to_libcrypto()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        var managed = new byte[256];
        var native = new byte[256];
        key.SignPkcs1Type1Managed(Bytes(SessionHmacHex), managed);
        Assert.Equal(SessionSignatureHex, Convert.ToHexStringLower(managed));

        var random = new Random(1234);
        for (int i = 0; i < 20; i++)
        {
            var data = new byte[random.Next(0, 245)];
            random.NextBytes(data);
            key.SignPkcs1Type1Managed(data, managed);
            key.SignPkcs1Type1Native(data, native);
            Assert.Equal(native, managed);
        }
    }

    [Fact]
    public void Native_signing_is_safe_from_many_threads()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        byte[] expected = Bytes(SessionSignatureHex);
        Parallel.For(0, 200, _ =>
        {
            var signature = new byte[256];
            key.SignPkcs1Type1(Bytes(SessionHmacHex), signature);
            Assert.Equal(expected, signature);
        });
    }

    [Fact]
    public void Device_view_verifies_the_type1_signature_and_rejects_tampering()
    {
        ServerPublicKey serverKey = ServerPublicKey.FromSpki(Bytes(ServerPublicSpkiHex));
        byte[] signature = Bytes(SessionSignatureHex);
        byte[] hmac = Bytes(SessionHmacHex);
        Assert.True(serverKey.VerifyPkcs1Type1(signature, hmac));
        hmac[0] ^= 1;
        Assert.False(serverKey.VerifyPkcs1Type1(signature, hmac));
        hmac[0] ^= 1;
        signature[100] ^= 1;
        Assert.False(serverKey.VerifyPkcs1Type1(signature, hmac));
        Assert.False(serverKey.VerifyPkcs1Type1(new byte[256].Select(_ => (byte)0xFF).ToArray(), hmac));
    }

    [Fact]
    public void Type1_padding_is_00_01_ff_00_data()
    {
        Span<byte> block = stackalloc byte[32];
        Pkcs1Type1Padding.Pad([0xAA, 0xBB], block);
        Assert.Equal("0001" + new string('F', 54) + "00AABB", Convert.ToHexString(block));
        Assert.True(Pkcs1Type1Padding.TryUnpad(block, out ReadOnlySpan<byte> data));
        Assert.Equal(new byte[] { 0xAA, 0xBB }, data.ToArray());
        block[5] = 0x00;
        Assert.False(Pkcs1Type1Padding.TryUnpad(block, out _));
    }

    [Fact]
    public void Server_decrypts_a_fixed_openssl_identification()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        var plaintext = new byte[256];
        Assert.True(key.TryDecrypt(Bytes(IdentificationCiphertextHex), plaintext, out int length));
        Assert.Equal(NonceHex + DeviceIdHex + DevicePublicSpkiHex, Convert.ToHexStringLower(plaintext.AsSpan(0, length)));
        Assert.False(key.TryDecrypt(new byte[256], plaintext, out _));
        Assert.False(key.TryDecrypt(new byte[10], plaintext, out _));
    }

    [Fact]
    public void Server_decrypt_is_safe_from_many_threads()
    {
        using ServerPrivateKey key = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
        byte[] ciphertext = Bytes(IdentificationCiphertextHex);
        Parallel.For(0, 100, _ =>
        {
            var plaintext = new byte[256];
            Assert.True(key.TryDecrypt(ciphertext, plaintext, out int length));
            Assert.Equal(214, length);
        });
    }

    [Fact]
    public void Wrong_key_sizes_are_refused()
    {
        Assert.Throws<ArgumentException>(() => ServerPrivateKey.FromPem(DevicePrivateKeyPem));
        Assert.Throws<ArgumentException>(() => DevicePrivateKey.FromPem(ServerPrivateKeyPem));
    }
}
