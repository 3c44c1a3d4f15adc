using System.Security.Cryptography;
using Bulwark.Protocol.Keys;
using Bulwark.Server.Hosting;
using Bulwark.Server.Security;

namespace Bulwark.Server.Features.Keys;

/// <summary>The cloud's own keys: RSA-2048 for the Gen2 TCP handshake and EC P-256 for UDP and Device Protection.
/// Generated on first run into the data folder's <c>keys/</c>; the private parts are stored encrypted with the data key.</summary>
public sealed class ServerKeyStore : IDisposable
{
    private const string RsaFile = "server-rsa.key.protected";
    private const string EcFile = "server-ec.key.protected";

    private readonly ECDsa _ec;

    private ServerKeyStore(ServerPrivateKey rsa, ECDsa ec)
    {
        Rsa = rsa;
        _ec = ec;
        EcPublicKeySpki = ec.ExportSubjectPublicKeyInfo();
    }

    /// <summary>The TCP handshake key.</summary>
    public ServerPrivateKey Rsa { get; }

    /// <summary>The P-256 public key, SubjectPublicKeyInfo DER (91 bytes).</summary>
    public byte[] EcPublicKeySpki { get; }

    public string RsaPublicKeyPem => Rsa.ExportPublicKeyPem();

    public string EcPublicKeyPem => PemEncoding.WriteString("PUBLIC KEY", EcPublicKeySpki);

    /// <summary>Signs a 32-byte hash with the EC key, DER-encoded as Device OS expects.</summary>
    public byte[] SignEcHash(ReadOnlySpan<byte> hash) => _ec.SignHash(hash, DSASignatureFormat.Rfc3279DerSequence);

    /// <summary>Loads the keys from <c>keys/</c> under the data folder, creating them on first run.</summary>
    public static ServerKeyStore LoadOrCreate(string dataDirectory, SecretProtector protector)
    {
        ArgumentNullException.ThrowIfNull(protector);
        var directory = Path.Combine(dataDirectory, "keys");
        Directory.CreateDirectory(directory);
        var rsaPem = LoadOrCreatePem(Path.Combine(directory, RsaFile), protector, () =>
        {
            using var fresh = ServerPrivateKey.Generate();
            return fresh.ExportPem();
        });
        var ecPem = LoadOrCreatePem(Path.Combine(directory, EcFile), protector, () =>
        {
            using var fresh = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            return fresh.ExportECPrivateKeyPem();
        });
        var ec = ECDsa.Create();
        ec.ImportFromPem(ecPem);
        var store = new ServerKeyStore(ServerPrivateKey.FromPem(rsaPem), ec);
        // Public halves in the clear, for operators who want to inspect or distribute them.
        File.WriteAllText(Path.Combine(directory, "server-rsa.pub.pem"), store.RsaPublicKeyPem);
        File.WriteAllText(Path.Combine(directory, "server-ec.pub.pem"), store.EcPublicKeyPem);
        return store;
    }

    private static string LoadOrCreatePem(string path, SecretProtector protector, Func<string> generate)
    {
        if (!File.Exists(path))
        {
            var temp = path + ".tmp";
            File.WriteAllText(temp, protector.Protect(generate()));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            try
            {
                File.Move(temp, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process won the race; use its key.
                File.Delete(temp);
            }
        }
        return protector.UnprotectString(File.ReadAllText(path).Trim());
    }

    public void Dispose()
    {
        Rsa.Dispose();
        _ec.Dispose();
    }
}
