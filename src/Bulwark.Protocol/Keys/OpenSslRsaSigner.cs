using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Keys;

// PKCS#1 type 1 "signing" of raw bytes (no DigestInfo) through libcrypto's EVP_PKEY_sign with no message digest set.
// .NET cannot do this: RSA.SignHash always wraps the hash in a DigestInfo and there is no raw RSA primitive.
// .NET itself runs on this same libcrypto on Linux, so no new native dependency is introduced.
internal sealed partial class OpenSslRsaSigner : IDisposable
{
    private const string LibCrypto = "libcrypto.so.3";
    private const int RsaPkcs1Padding = 1;
    private const int MaxPooledContexts = 64;

    private static readonly Lazy<bool> Available = new(ProbeLibrary);

    private readonly PKeyHandle _key;
    private readonly int _signatureLength;
    // An EVP_PKEY_CTX may sign many times after one sign_init, but not from two threads at once; pool them.
    private readonly ConcurrentBag<nint> _contexts = [];

    private OpenSslRsaSigner(PKeyHandle key, int signatureLength)
    {
        _key = key;
        _signatureLength = signatureLength;
    }

    /// <summary>True when libcrypto.so.3 loads and exports what is needed.</summary>
    public static bool IsAvailable => Available.Value;

    /// <summary>Loads a private key from PKCS#1 or PKCS#8 DER; null when libcrypto is unavailable or refuses the key.</summary>
    public static OpenSslRsaSigner? TryCreate(ReadOnlySpan<byte> privateKeyDer, int signatureLength)
    {
        if (!IsAvailable)
        {
            return null;
        }

        nint key = DecodePrivateKey(privateKeyDer);
        if (key == 0)
        {
            ERR_clear_error();
            return null;
        }

        return new OpenSslRsaSigner(new PKeyHandle(key), signatureLength);
    }

    /// <summary>Writes the type 1 padded private operation over <paramref name="data"/>.</summary>
    public void Sign(ReadOnlySpan<byte> data, Span<byte> signature)
    {
        if (signature.Length < _signatureLength)
        {
            throw new ArgumentException("Signature buffer is too small.", nameof(signature));
        }

        nint context = RentContext();
        bool healthy = false;
        try
        {
            nuint written = (nuint)signature.Length;
            int result;
            unsafe
            {
                fixed (byte* input = data)
                fixed (byte* output = signature)
                {
                    result = EVP_PKEY_sign(context, output, ref written, input, (nuint)data.Length);
                }
            }

            if (result != 1 || written != (nuint)_signatureLength)
            {
                ERR_clear_error();
                throw new CryptographicException("libcrypto EVP_PKEY_sign failed.");
            }

            healthy = true;
        }
        finally
        {
            ReturnContext(context, healthy);
        }
    }

    public void Dispose()
    {
        while (_contexts.TryTake(out nint context))
        {
            EVP_PKEY_CTX_free(context);
        }

        _key.Dispose();
    }

    private nint RentContext()
    {
        if (_contexts.TryTake(out nint pooled))
        {
            return pooled;
        }

        bool added = false;
        try
        {
            _key.DangerousAddRef(ref added);
            nint context = EVP_PKEY_CTX_new(_key.DangerousGetHandle(), 0);
            if (context == 0)
            {
                ERR_clear_error();
                throw new CryptographicException("libcrypto EVP_PKEY_CTX_new failed.");
            }

            if (EVP_PKEY_sign_init(context) != 1 || EVP_PKEY_CTX_set_rsa_padding(context, RsaPkcs1Padding) != 1)
            {
                EVP_PKEY_CTX_free(context);
                ERR_clear_error();
                throw new CryptographicException("libcrypto could not prepare a PKCS#1 signing context.");
            }

            return context;
        }
        finally
        {
            // The context holds its own reference to the key (EVP_PKEY_CTX_new up-refs it).
            if (added)
            {
                _key.DangerousRelease();
            }
        }
    }

    private void ReturnContext(nint context, bool healthy)
    {
        if (healthy && _contexts.Count < MaxPooledContexts)
        {
            _contexts.Add(context);
        }
        else
        {
            EVP_PKEY_CTX_free(context);
        }
    }

    private static unsafe nint DecodePrivateKey(ReadOnlySpan<byte> der)
    {
        fixed (byte* start = der)
        {
            byte* cursor = start;
            return d2i_AutoPrivateKey(0, &cursor, new CLong(der.Length));
        }
    }

    private static bool ProbeLibrary()
    {
        try
        {
            if (!NativeLibrary.TryLoad(LibCrypto, typeof(OpenSslRsaSigner).Assembly, null, out nint library))
            {
                return false;
            }

            foreach (string export in new[] { "d2i_AutoPrivateKey", "EVP_PKEY_CTX_new", "EVP_PKEY_sign_init", "EVP_PKEY_CTX_set_rsa_padding", "EVP_PKEY_sign", "EVP_PKEY_CTX_free", "EVP_PKEY_free", "ERR_clear_error" })
            {
                if (!NativeLibrary.TryGetExport(library, export, out _))
                {
                    return false;
                }
            }

            return true;
        }
        catch (DllNotFoundException)
        {
            return false;
        }
        catch (BadImageFormatException)
        {
            return false;
        }
    }

    [LibraryImport(LibCrypto)]
    private static unsafe partial nint d2i_AutoPrivateKey(nint existing, byte** cursor, CLong length);

    [LibraryImport(LibCrypto)]
    private static partial nint EVP_PKEY_CTX_new(nint key, nint engine);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_sign_init(nint context);

    [LibraryImport(LibCrypto)]
    private static partial int EVP_PKEY_CTX_set_rsa_padding(nint context, int padding);

    [LibraryImport(LibCrypto)]
    private static unsafe partial int EVP_PKEY_sign(nint context, byte* signature, ref nuint signatureLength, byte* data, nuint dataLength);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_CTX_free(nint context);

    [LibraryImport(LibCrypto)]
    private static partial void EVP_PKEY_free(nint key);

    [LibraryImport(LibCrypto)]
    private static partial void ERR_clear_error();

    private sealed class PKeyHandle : SafeHandle
    {
        public PKeyHandle(nint key)
            : base(0, ownsHandle: true)
        {
            SetHandle(key);
        }

        public override bool IsInvalid => handle == 0;

        protected override bool ReleaseHandle()
        {
            EVP_PKEY_free(handle);
            return true;
        }
    }
}
