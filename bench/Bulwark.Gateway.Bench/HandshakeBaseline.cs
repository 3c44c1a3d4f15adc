using System.Diagnostics;
using System.Security.Cryptography;
using Bulwark.Protocol.Keys;

/// <summary>
/// The machine's own speed at the public-key work the server does per handshake, measured on all cores in the same
/// run, and the handshakes/s that work alone allows (<see cref="Bound"/>): the figure the benchmark's handshake rate is
/// set against.
/// </summary>
/// <param name="Operations">Each operation the server does once per handshake, with its rate on all cores.</param>
internal sealed record HandshakeBaseline(string Name, IReadOnlyList<(string Operation, double PerSecond)> Operations)
{
    /// <summary>Handshakes/s if the server did nothing but these operations: 1 / (sum of the per-operation times).</summary>
    public double Bound => 1 / Operations.Sum(op => 1 / op.PerSecond);

    public string Describe() => string.Join(", ", Operations.Select(op => $"{op.Operation} {op.PerSecond:N0}/s"));

    /// <summary>Gen2 (TCP): one RSA-2048 PKCS#1 decrypt of the device's nonce and one raw type-1 sign per handshake.</summary>
    public static HandshakeBaseline MeasureRsa(TimeSpan duration, int threads)
    {
        using var serverKey = ServerPrivateKey.Generate();
        using var rsaPublic = RSA.Create();
        rsaPublic.ImportSubjectPublicKeyInfo(serverKey.PublicKeySpki, out _);
        byte[] ciphertext = rsaPublic.Encrypt(RandomNumberGenerator.GetBytes(40), RSAEncryptionPadding.Pkcs1);
        byte[] toSign = RandomNumberGenerator.GetBytes(52);
        double decrypts = MeasureParallel(duration, threads, () =>
        {
            Span<byte> plain = stackalloc byte[256];
            if (!serverKey.TryDecrypt(ciphertext, plain, out _))
            {
                throw new InvalidOperationException("decrypt failed");
            }
        });
        double signs = MeasureParallel(duration, threads, () =>
        {
            Span<byte> signature = stackalloc byte[256];
            serverKey.SignPkcs1Type1(toSign, signature);
        });
        return new HandshakeBaseline("RSA-2048",
            [("PKCS#1 decrypt", decrypts), (serverKey.UsesNativeSigner ? "raw type-1 sign (native)" : "raw type-1 sign", signs)]);
    }

    /// <summary>Gen3 (UDP/DTLS): what <c>DtlsServerHandshake</c> does per handshake with the same BCL calls: an ECDSA
    /// P-256 sign of the ServerKeyExchange hash, the device's CertificateVerify checked against its SPKI (imported each
    /// time, as the server does), and ECDHE (a fresh P-256 key, its public point exported, the device's point imported
    /// and the shared secret derived).</summary>
    public static HandshakeBaseline MeasureEc(TimeSpan duration, int threads)
    {
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] deviceSpki = deviceKey.ExportSubjectPublicKeyInfo();
        byte[] hash = SHA256.HashData(RandomNumberGenerator.GetBytes(64));
        byte[] deviceSignature = deviceKey.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence);
        using var devicePoint = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        ECParameters devicePublic = devicePoint.ExportParameters(false);
        double signs = MeasureParallel(duration, threads, () => serverKey.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence));
        double verifies = MeasureParallel(duration, threads, () =>
        {
            using var key = ECDsa.Create();
            key.ImportSubjectPublicKeyInfo(deviceSpki, out _);
            if (!key.VerifyHash(hash, deviceSignature, DSASignatureFormat.Rfc3279DerSequence))
            {
                throw new InvalidOperationException("verify failed");
            }
        });
        double agreements = MeasureParallel(duration, threads, () =>
        {
            using var ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
            _ = ephemeral.ExportParameters(false);
            using var peer = ECDiffieHellman.Create(new ECParameters { Curve = ECCurve.NamedCurves.nistP256, Q = devicePublic.Q });
            _ = ephemeral.DeriveRawSecretAgreement(peer.PublicKey);
        });
        return new HandshakeBaseline("ECDSA/ECDH P-256",
            [("ECDSA sign", signs), ("ECDSA verify", verifies), ("ECDH keygen + derive", agreements)]);
    }

    private static double MeasureParallel(TimeSpan duration, int threads, Action action)
    {
        action();
        long count = 0;
        var watch = Stopwatch.StartNew();
        Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, _ =>
        {
            long local = 0;
            while (watch.Elapsed < duration)
            {
                action();
                local++;
            }
            Interlocked.Add(ref count, local);
        });
        return count / watch.Elapsed.TotalSeconds;
    }
}
