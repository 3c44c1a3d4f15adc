using System.Security.Cryptography;
using System.Text;

namespace Bulwark.Server.Security;

/// <summary>Encrypts secrets at rest (TOTP secrets, server private keys) with AES-256-GCM under a key kept in
/// the data folder (<c>keys/data.key</c>, created on first run, readable by the owner only).</summary>
public sealed class SecretProtector
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    public SecretProtector(byte[] key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != 32)
        {
            throw new ArgumentException("The data key must be 32 bytes", nameof(key));
        }
        _key = key;
    }

    /// <summary>Loads the data key from the folder, creating it with owner-only permissions on first run.</summary>
    public static SecretProtector FromDataDirectory(string dataDirectory)
    {
        var keyDirectory = Path.Combine(dataDirectory, "keys");
        Directory.CreateDirectory(keyDirectory);
        var path = Path.Combine(keyDirectory, "data.key");
        if (!File.Exists(path))
        {
            var fresh = RandomNumberGenerator.GetBytes(32);
            var temp = path + ".tmp";
            File.WriteAllText(temp, Convert.ToBase64String(fresh));
            if (!OperatingSystem.IsWindows())
            {
                File.SetUnixFileMode(temp, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            File.Move(temp, path, overwrite: false);
        }
        return new SecretProtector(Convert.FromBase64String(File.ReadAllText(path).Trim()));
    }

    public string Protect(byte[] plaintext)
    {
        ArgumentNullException.ThrowIfNull(plaintext);
        var output = new byte[NonceSize + plaintext.Length + TagSize];
        var nonce = output.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_key, TagSize);
        aes.Encrypt(nonce, plaintext, output.AsSpan(NonceSize, plaintext.Length), output.AsSpan(NonceSize + plaintext.Length));
        return Convert.ToBase64String(output);
    }

    public string Protect(string plaintext) => Protect(Encoding.UTF8.GetBytes(plaintext));

    public byte[] Unprotect(string protectedValue)
    {
        var input = Convert.FromBase64String(protectedValue);
        if (input.Length < NonceSize + TagSize)
        {
            throw new CryptographicException("Protected value is too short");
        }
        var plaintext = new byte[input.Length - NonceSize - TagSize];
        using var aes = new AesGcm(_key, TagSize);
        aes.Decrypt(input.AsSpan(0, NonceSize), input.AsSpan(NonceSize, plaintext.Length), input.AsSpan(input.Length - TagSize), plaintext);
        return plaintext;
    }

    public string UnprotectString(string protectedValue) => Encoding.UTF8.GetString(Unprotect(protectedValue));
}
