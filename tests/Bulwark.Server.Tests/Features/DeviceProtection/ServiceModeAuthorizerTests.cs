using System.Security.Cryptography;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Features.DeviceProtection;

/// <summary>Service Mode signatures against fixed vectors. The keys are fixed P-256 scalars; the expected hashes and the
/// device signature were computed independently with Python's hashlib and <c>cryptography</c> (ECDSA, Prehashed SHA-256,
/// DER), following device-protocol.md 5.2 byte for byte.</summary>
public class ServiceModeAuthorizerTests
{
    internal const string DevicePem = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgHT9cKpuOfWxbSjko
        Fwb15NPCsaCZiHdmVUQzIhEAD+2hRANCAAQOXV9mdIbaSeMqvOX3bF0Eikc3IP9n
        wKkH7rjV5S2x3kDTbGi41xbf8OuNwECv5v9xAJnEVL+QF4FJE4rgJmDQ
        -----END PRIVATE KEY-----
        """;

    internal const string ServerPem = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgKissLS4vMDEyMzQ1
        Njc4OTo7PD0+P0BBQkNERUZHSEmhRANCAAQU+3ARpRPx8g6OfMFn4n89X8sxqqUH
        YM7DdMTUATkxL8YebHjrc0Sx6FMHV+jx2AvEAr16/5z+035hHiwrOTJr
        -----END PRIVATE KEY-----
        """;

    internal const string OtherPem = """
        -----BEGIN PRIVATE KEY-----
        MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgDw4NDAsKCQgHBgUE
        AwIBAP/u3cy7qpmId2ZVRDMiEQChRANCAAT0KJyjnKFQ9RMLV9KKRKUwW40b/4tZ
        YSg8l2wFqf82MZbmEk72Mn7SKnPpUo4U9nEMR+zcjBwck6IX/NU0bHCZ
        -----END PRIVATE KEY-----
        """;

    private const string DeviceIdHex = "e00fce68b3a1c2d4e5f60718";
    private static readonly byte[] DeviceNonce = Enumerable.Range(0x40, 32).Select(b => (byte)b).ToArray();
    private static readonly byte[] ServerNonce = Enumerable.Range(0xa0, 32).Select(b => (byte)b).ToArray();

    private const string DeviceFingerprintHex = "555f884fde1f2390409fb07db9f5cfb7d7fd6aedfd43f6ae6665bf5e13867b41";
    private const string ServerFingerprintHex = "041926f583cd86e9e1248daf8745cda7f664090724885281c6b8dc98bda4360d";
    private const string DeviceHashHex = "a26c0beea26722e32d3eacaf3c8dd0afbad6736175846cc63de6d73f1d6623cf";
    private const string ServerHashHex = "d78add5d9aaa5703baf486543dba25699a3159e531dfdc6263a8782cbd12fc6a";
    private const string DeviceSignatureHex =
        "3046022100e3f3f6d2e6fdd75b7cc5cda602c4578753f8333c4588e97e2d409951cd71286f022100e58d04d3d5272f1d043a963568b1211ad8c79178f2a256c1b6d14012875e860a";
    /// <summary>The same device hash signed by <see cref="OtherPem"/>.</summary>
    private const string OtherSignatureHex =
        "30460221009816908afecf9f250b5c884608ecaf1a5765da783967bb6054038f124a0232ab022100ed70b2200d7d95c8c50f0d4e462cf779c285f8ae8785d36d55fb342155b3a9be";

    private static byte[] DeviceIdBytes => Convert.FromHexString(DeviceIdHex);

    internal static ECDsa Key(string pem)
    {
        var key = ECDsa.Create();
        key.ImportFromPem(pem);
        return key;
    }

    [Fact]
    public void Fingerprints_are_sha256_of_the_spki_der()
    {
        using var device = Key(DevicePem);
        using var server = Key(ServerPem);
        Assert.Equal(DeviceFingerprintHex, Convert.ToHexStringLower(ServiceModeSignatures.Fingerprint(device)));
        Assert.Equal(ServerFingerprintHex, Convert.ToHexStringLower(ServiceModeSignatures.Fingerprint(server.ExportSubjectPublicKeyInfo())));
    }

    [Fact]
    public void Device_and_server_hashes_match_the_vectors()
    {
        Assert.Equal(DeviceHashHex, Convert.ToHexStringLower(ServiceModeSignatures.DeviceHash(DeviceIdBytes, DeviceNonce, ServerNonce)));
        Assert.Equal(ServerHashHex, Convert.ToHexStringLower(
            ServiceModeSignatures.ServerHash(DeviceIdBytes, ServerNonce, DeviceNonce, Convert.FromHexString(DeviceFingerprintHex))));
    }

    [Fact]
    public void The_fixed_device_signature_verifies_over_the_hash()
    {
        using var device = Key(DevicePem);
        Assert.True(ServiceModeSignatures.Verify(device, Convert.FromHexString(DeviceHashHex), Convert.FromHexString(DeviceSignatureHex)));
        Assert.False(ServiceModeSignatures.Verify(device, Convert.FromHexString(DeviceHashHex), Convert.FromHexString(OtherSignatureHex)));
    }

    [Fact]
    public void Confirm_with_the_vectors_returns_a_server_signature_over_the_exact_hash()
    {
        var (authorizer, clock, deviceSpki) = Create();
        var nonce = authorizer.Prepare(DeviceIdHex);
        Assert.Equal(32, nonce.Length);
        // The vectors use a fixed server nonce: inject it as if prepare had issued it.
        InjectNonce(authorizer, clock);
        clock.Advance(TimeSpan.FromSeconds(59));
        var grant = authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors());
        Assert.True(grant.Granted, grant.Error);
        Assert.Equal(ServerFingerprintHex, Convert.ToHexStringLower(grant.ServerPublicKeyFingerprint!));
        using var server = Key(ServerPem);
        Assert.True(server.VerifyHash(Convert.FromHexString(ServerHashHex), grant.ServerSignature!, DSASignatureFormat.Rfc3279DerSequence));
        Assert.Equal(0x30, grant.ServerSignature![0]);
    }

    [Fact]
    public void A_signature_by_a_different_key_is_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock);
        var grant = authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors() with { DeviceSignature = Convert.FromHexString(OtherSignatureHex) });
        Assert.False(grant.Granted);
        Assert.Equal(ServiceModeAuthorizer.CodeSignature, grant.Code);
        Assert.Null(grant.ServerSignature);
    }

    [Fact]
    public void A_device_registered_with_another_key_is_refused_even_with_its_fingerprint()
    {
        var (authorizer, clock, _) = Create();
        InjectNonce(authorizer, clock);
        using var other = Key(OtherPem);
        var otherSpki = other.ExportSubjectPublicKeyInfo();
        var grant = authorizer.Confirm(DeviceIdHex, otherSpki, Vectors() with { DevicePublicKeyFingerprint = ServiceModeSignatures.Fingerprint(otherSpki) });
        Assert.Equal(ServiceModeAuthorizer.CodeSignature, grant.Code);
    }

    [Fact]
    public void An_expired_prepare_is_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock);
        clock.Advance(TimeSpan.FromSeconds(61));
        var grant = authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors());
        Assert.Equal(ServiceModeAuthorizer.CodeExpired, grant.Code);
    }

    [Fact]
    public void A_replayed_confirm_is_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock);
        Assert.True(authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors()).Granted);
        var replay = authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors());
        Assert.False(replay.Granted);
        Assert.Equal(ServiceModeAuthorizer.CodeUnknownNonce, replay.Code);
    }

    [Fact]
    public void A_nonce_prepared_for_another_device_is_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock, "e00fce68b3a1c2d4e5f60719");
        Assert.Equal(ServiceModeAuthorizer.CodeUnknownNonce, authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors()).Code);
    }

    [Fact]
    public void A_wrong_fingerprint_is_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock);
        var wrong = Convert.FromHexString(DeviceFingerprintHex);
        wrong[0] ^= 1;
        var grant = authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors() with { DevicePublicKeyFingerprint = wrong });
        Assert.Equal(ServiceModeAuthorizer.CodeFingerprint, grant.Code);
    }

    [Fact]
    public void A_device_without_an_ec_key_gets_particles_message()
    {
        var (authorizer, clock, _) = Create();
        InjectNonce(authorizer, clock);
        var grant = authorizer.Confirm(DeviceIdHex, null, Vectors());
        Assert.Equal(ServiceModeAuthorizer.DeviceKeyNotFound, grant.Error);
    }

    [Fact]
    public void Malformed_lengths_are_refused()
    {
        var (authorizer, clock, deviceSpki) = Create();
        InjectNonce(authorizer, clock);
        Assert.Equal(ServiceModeAuthorizer.CodeMalformed, authorizer.Confirm(DeviceIdHex, deviceSpki, Vectors() with { DeviceNonce = new byte[31] }).Code);
    }

    private static ServiceModeConfirmation Vectors() => new(ServerNonce, DeviceNonce, Convert.FromHexString(DeviceSignatureHex), Convert.FromHexString(DeviceFingerprintHex));

    private static (ServiceModeAuthorizer, ManualClock, byte[]) Create()
    {
        var clock = new ManualClock(new DateTimeOffset(2025, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var authorizer = new ServiceModeAuthorizer(new PemSigner(ServerPem), clock);
        using var device = Key(DevicePem);
        return (authorizer, clock, device.ExportSubjectPublicKeyInfo());
    }

    private static void InjectNonce(ServiceModeAuthorizer authorizer, ManualClock clock, string deviceId = DeviceIdHex) =>
        authorizer.Remember(deviceId, ServerNonce);

    internal sealed class PemSigner(string pem) : IServiceModeSigner
    {
        private readonly ECDsa _key = Key(pem);

        public byte[] PublicKeySpki => _key.ExportSubjectPublicKeyInfo();

        public byte[] SignHash(ReadOnlySpan<byte> hash) => _key.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence);
    }
}
