using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol;

namespace Bulwark.DeviceSim.Fleet;

/// <summary>A key folder is missing, unreadable or holds a bad key.</summary>
public sealed class DeviceKeyStoreException : Exception
{
    public DeviceKeyStoreException()
    {
    }

    public DeviceKeyStoreException(string message)
        : base(message)
    {
    }

    public DeviceKeyStoreException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>One manifest row: a device's ID and public key, as bulk registration takes them.</summary>
public sealed record DeviceKeyManifestEntry(string Id, string PublicKey, string Algorithm = "rsa");

/// <summary>The JSON manifest: exactly the body of <c>POST /v1/provisioning</c> (<c>{devices:[{id, publicKey, algorithm}]}</c>).</summary>
public sealed record DeviceKeyManifest(IReadOnlyList<DeviceKeyManifestEntry> Devices);

/// <summary>
/// Device keys on disk, so RSA-1024 generation (milliseconds per key) happens once per fleet: one
/// <c>&lt;deviceid&gt;.der</c> per device (PKCS#1 DER, the device's own format, mode 0600) and its EC P-256 key for UDP in
/// <c>&lt;deviceid&gt;.ec.der</c> (SEC1 DER, mode 0600), plus <c>devices.json</c> (the <c>POST /v1/provisioning</c> batch
/// body: one <c>rsa</c> row per device and one <c>ecc</c> row per EC key) and <c>devices.csv</c> manifests.
/// </summary>
public static class DeviceKeyStore
{
    /// <summary>The provisioning API's name for EC P-256 keys.</summary>
    public const string EccAlgorithm = "ecc";

    public const string JsonManifestName = "devices.json";
    public const string CsvManifestName = "devices.csv";
    public const string KeyExtension = ".der";
    public const string EcKeyExtension = ".ec.der";

    private static readonly JsonSerializerOptions ManifestJson = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        // Keep PEM readable: the default encoder writes '+' as \u002B.
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Generates <paramref name="count"/> new devices into <paramref name="directory"/> (keeping any already there,
    /// and giving those without one an EC key) and rewrites the manifests.</summary>
    public static async Task<IReadOnlyList<DeviceIdentity>> GenerateAsync(string directory, int count, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        Directory.CreateDirectory(directory);
        var generated = new DeviceIdentity[count];
        int done = 0;
        await Parallel.ForAsync(0, count, cancellationToken, async (i, token) =>
        {
            DeviceIdentity identity = DeviceIdentity.Generate();
            await WriteKeyAsync(Path.Combine(directory, identity.Id + KeyExtension), identity.PrivateKeyDer.ToArray(), token).ConfigureAwait(false);
            await WriteKeyAsync(Path.Combine(directory, identity.Id + EcKeyExtension), identity.EcPrivateKeyDer.ToArray(), token).ConfigureAwait(false);
            generated[i] = identity;
            int total = Interlocked.Increment(ref done);
            if (total % 100 == 0 || total == count)
            {
                progress?.Report(total);
            }
        }).ConfigureAwait(false);

        IReadOnlyList<DeviceIdentity> all = await AddMissingEcKeysAsync(directory, Load(directory), cancellationToken).ConfigureAwait(false);
        await WriteManifestsAsync(directory, all, cancellationToken).ConfigureAwait(false);
        return generated;
    }

    /// <summary>Gives every device in the list that has no EC key a new one, saved next to its RSA key; returns the
    /// list with those keys. The manifests are not rewritten (see <see cref="WriteManifestsAsync"/>).</summary>
    public static async Task<IReadOnlyList<DeviceIdentity>> AddMissingEcKeysAsync(string directory, IReadOnlyList<DeviceIdentity> identities, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(identities);
        var result = identities.ToArray();
        for (int i = 0; i < result.Length; i++)
        {
            if (!result[i].HasEcKey)
            {
                byte[] key = DeviceIdentity.GenerateEcKeyDer();
                await WriteKeyAsync(Path.Combine(directory, result[i].Id + EcKeyExtension), key, cancellationToken).ConfigureAwait(false);
                result[i] = result[i].WithEcKey(key);
            }
        }

        return result;
    }

    /// <summary>Loads up to <paramref name="count"/> devices, generating and saving any shortfall: a cache of keys under the caller's folder.</summary>
    public static async Task<IReadOnlyList<DeviceIdentity>> LoadOrGenerateAsync(string directory, int count, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        IReadOnlyList<DeviceIdentity> existing = Directory.Exists(directory) ? Load(directory) : [];
        if (existing.Count >= count)
        {
            IReadOnlyList<DeviceIdentity> wanted = existing.Take(count).ToArray();
            if (wanted.All(identity => identity.HasEcKey))
            {
                return wanted;
            }

            // A folder from before EC keys: top them up so the same cache serves UDP fleets.
            IReadOnlyList<DeviceIdentity> all = await AddMissingEcKeysAsync(directory, existing, cancellationToken).ConfigureAwait(false);
            await WriteManifestsAsync(directory, all, cancellationToken).ConfigureAwait(false);
            return all.Take(count).ToArray();
        }

        await GenerateAsync(directory, count - existing.Count, progress, cancellationToken).ConfigureAwait(false);
        return Load(directory, count);
    }

    /// <summary>Loads the devices in a key folder, in a stable order (the JSON manifest's, then any other key files by name).</summary>
    /// <exception cref="DeviceKeyStoreException">The folder is missing or a key file is unreadable or not an RSA-1024 key.</exception>
    public static IReadOnlyList<DeviceIdentity> Load(string directory, int? count = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (!Directory.Exists(directory))
        {
            throw new DeviceKeyStoreException($"The key folder {directory} does not exist; create one with `bulwark-sim keys generate --out {directory}`.");
        }

        var ids = new List<DeviceId>();
        var seen = new HashSet<DeviceId>();
        foreach (string path in Directory.EnumerateFiles(directory, "*" + KeyExtension).Order(StringComparer.Ordinal))
        {
            if (path.EndsWith(EcKeyExtension, StringComparison.Ordinal))
            {
                continue;
            }

            string name = Path.GetFileNameWithoutExtension(path);
            if (DeviceId.TryParse(name, out DeviceId id) && seen.Add(id))
            {
                ids.Add(id);
            }
        }

        // Keep the manifest's order so "--count N" picks the same devices every run.
        List<DeviceId> ordered = ReadManifestOrder(directory).Where(seen.Contains).ToList();
        ordered.AddRange(ids.Except(ordered));
        int take = Math.Min(count ?? int.MaxValue, ordered.Count);
        var identities = new DeviceIdentity[take];
        try
        {
            Parallel.For(0, take, i => identities[i] = LoadOne(directory, ordered[i]));
        }
        catch (AggregateException e) when (e.InnerExceptions.FirstOrDefault(inner => inner is DeviceKeyStoreException) is { } first)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }

        return identities;
    }

    /// <summary>Writes the two manifests: JSON <c>{devices:[{id, publicKey, algorithm}]}</c> and CSV <c>device_id,public_key_pem,algorithm</c>,
    /// each device's <c>rsa</c> row followed by its <c>ecc</c> row when it has an EC key.</summary>
    public static async Task WriteManifestsAsync(string directory, IReadOnlyList<DeviceIdentity> identities, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(identities);
        var rows = new DeviceKeyManifestEntry[identities.Count][];
        Parallel.For(0, identities.Count, i =>
        {
            DeviceIdentity identity = identities[i];
            var rsa = new DeviceKeyManifestEntry(identity.Id.ToString(), identity.GetPublicKeyPem());
            rows[i] = identity.HasEcKey ? [rsa, new DeviceKeyManifestEntry(identity.Id.ToString(), identity.GetEcPublicKeyPem(), EccAlgorithm)] : [rsa];
        });
        DeviceKeyManifestEntry[] entries = rows.SelectMany(row => row).ToArray();

        await using (FileStream json = File.Create(Path.Combine(directory, JsonManifestName)))
        {
            await JsonSerializer.SerializeAsync(json, new DeviceKeyManifest(entries), ManifestJson, cancellationToken).ConfigureAwait(false);
        }

        var csv = new StringBuilder("device_id,public_key_pem,algorithm\n");
        foreach (DeviceKeyManifestEntry entry in entries)
        {
            // RFC 4180: the PEM's line breaks stay inside the quoted field.
            csv.Append(entry.Id).Append(",\"").Append(entry.PublicKey.Replace("\"", "\"\"", StringComparison.Ordinal)).Append("\",").Append(entry.Algorithm).Append('\n');
        }

        await File.WriteAllTextAsync(Path.Combine(directory, CsvManifestName), csv.ToString(), cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteKeyAsync(string path, byte[] key, CancellationToken cancellationToken)
    {
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        await using var file = new FileStream(path, options);
        await file.WriteAsync(key, cancellationToken).ConfigureAwait(false);
    }

    private static DeviceIdentity LoadOne(string directory, DeviceId id)
    {
        string path = Path.Combine(directory, id + KeyExtension);
        DeviceIdentity identity;
        try
        {
            identity = DeviceIdentity.FromKeyBytes(id, File.ReadAllBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeviceKeyStoreException($"Cannot read the key file {path}: {e.Message}", e);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new DeviceKeyStoreException($"The key file {path} is not an RSA-1024 private key (PKCS#1 or PKCS#8 DER, or PEM): {e.Message}", e);
        }

        string ecPath = Path.Combine(directory, id + EcKeyExtension);
        try
        {
            return File.Exists(ecPath) ? identity.WithEcKey(File.ReadAllBytes(ecPath)) : identity;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DeviceKeyStoreException($"Cannot read the key file {ecPath}: {e.Message}", e);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new DeviceKeyStoreException($"The key file {ecPath} is not an EC P-256 private key (SEC1 or PKCS#8 DER, or PEM): {e.Message}", e);
        }
    }

    private static IEnumerable<DeviceId> ReadManifestOrder(string directory)
    {
        string path = Path.Combine(directory, JsonManifestName);
        if (!File.Exists(path))
        {
            return [];
        }

        try
        {
            IReadOnlyList<DeviceKeyManifestEntry> entries = JsonSerializer.Deserialize<DeviceKeyManifest>(File.ReadAllBytes(path), ManifestJson)?.Devices ?? [];
            // A device with an EC key has two rows (rsa, ecc); its place is its first.
            return entries.Select(e => DeviceId.TryParse(e.Id, out DeviceId id) ? id : (DeviceId?)null).OfType<DeviceId>().Distinct().ToArray();
        }
        catch (JsonException)
        {
            // The manifest only fixes the order; the key files are the truth, so fall back to their names.
            return [];
        }
    }
}
