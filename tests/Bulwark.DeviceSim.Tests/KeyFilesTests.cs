using System.Text;
using System.Text.Json;
using Bulwark.DeviceSim.Cli;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Protocol.Keys;

namespace Bulwark.DeviceSim.Tests;

public sealed class KeyFilesTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("bulwark-sim-keys-");

    [Fact]
    public async Task Generate_WritesDeviceFormatKeysAndManifests_ThatLoadBackInOrder()
    {
        IReadOnlyList<DeviceIdentity> generated = await DeviceKeyStore.GenerateAsync(_directory.FullName, 4);

        IReadOnlyList<DeviceIdentity> loaded = DeviceKeyStore.Load(_directory.FullName);
        using JsonDocument manifest = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(_directory.FullName, DeviceKeyStore.JsonManifestName)));
        JsonElement devices = manifest.RootElement.GetProperty("devices");
        string[] manifestIds = devices.EnumerateArray().Where(e => e.GetProperty("algorithm").GetString() == "rsa").Select(e => e.GetProperty("id").GetString()!).ToArray();

        Assert.Equal(generated.Select(g => g.Id.ToString()).Order(), loaded.Select(l => l.Id.ToString()).Order());
        Assert.Equal(manifestIds, loaded.Select(l => l.Id.ToString()));
        foreach (DeviceIdentity identity in loaded)
        {
            byte[] der = File.ReadAllBytes(Path.Combine(_directory.FullName, identity.Id + ".der"));
            Assert.True(der.Length <= DevicePrivateKey.MaxDerLength);
            Assert.Equal(0x30, der[0]);
            Assert.Equal(der, identity.PrivateKeyDer.ToArray());
            JsonElement[] entries = devices.EnumerateArray().Where(e => e.GetProperty("id").GetString() == identity.Id.ToString()).ToArray();
            Assert.Equal(["rsa", "ecc"], entries.Select(e => e.GetProperty("algorithm").GetString()));
            Assert.Equal(identity.GetPublicKeyPem(), entries[0].GetProperty("publicKey").GetString());
            Assert.Equal(identity.GetEcPublicKeyPem(), entries[1].GetProperty("publicKey").GetString());
            byte[] ecDer = File.ReadAllBytes(Path.Combine(_directory.FullName, identity.Id + ".ec.der"));
            Assert.Equal(ecDer, identity.EcPrivateKeyDer.ToArray());
            using (var ec = System.Security.Cryptography.ECDsa.Create())
            {
                ec.ImportECPrivateKey(ecDer, out int read);
                Assert.Equal(ecDer.Length, read);
                Assert.Equal(256, ec.KeySize);
            }

            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory.FullName, identity.Id + ".der")));
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory.FullName, identity.Id + ".ec.der")));
            }
        }

        string csv = File.ReadAllText(Path.Combine(_directory.FullName, DeviceKeyStore.CsvManifestName));
        Assert.StartsWith("device_id,public_key_pem,algorithm\n" + manifestIds[0] + ",\"-----BEGIN PUBLIC KEY-----\n", csv, StringComparison.Ordinal);
        Assert.Equal(2, DeviceKeyStore.Load(_directory.FullName, count: 2).Count);
    }

    [Fact]
    public async Task LoadOrGenerate_ReusesCachedKeysAndTopsUp()
    {
        IReadOnlyList<DeviceIdentity> first = await DeviceKeyStore.LoadOrGenerateAsync(_directory.FullName, 2);
        IReadOnlyList<DeviceIdentity> again = await DeviceKeyStore.LoadOrGenerateAsync(_directory.FullName, 3);

        Assert.Equal(first.Select(i => i.Id), again.Take(2).Select(i => i.Id));
        Assert.Equal(3, again.Select(i => i.Id).Distinct().Count());
    }

    [Fact]
    public async Task LoadOrGenerate_GivesDevicesFromBeforeEcKeysAnEcKey_AndListsItInTheManifest()
    {
        await DeviceKeyStore.GenerateAsync(_directory.FullName, 2);
        foreach (string ecFile in Directory.EnumerateFiles(_directory.FullName, "*.ec.der"))
        {
            File.Delete(ecFile);
        }

        Assert.All(DeviceKeyStore.Load(_directory.FullName), identity => Assert.False(identity.HasEcKey));
        IReadOnlyList<DeviceIdentity> loaded = await DeviceKeyStore.LoadOrGenerateAsync(_directory.FullName, 2);

        Assert.All(loaded, identity => Assert.True(identity.HasEcKey));
        Assert.Equal(loaded.Select(i => i.EcPrivateKeyDer.ToArray()), DeviceKeyStore.Load(_directory.FullName).Select(i => i.EcPrivateKeyDer.ToArray()));
        string json = File.ReadAllText(Path.Combine(_directory.FullName, DeviceKeyStore.JsonManifestName));
        Assert.All(loaded, identity => Assert.Contains(identity.GetEcPublicKeyPem().ReplaceLineEndings("\\n"), json, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Load_ReportsTheBadKeyFileByName()
    {
        await DeviceKeyStore.GenerateAsync(_directory.FullName, 1);
        string bad = Path.Combine(_directory.FullName, "0123456789abcdef01234567.der");
        await File.WriteAllBytesAsync(bad, [0x30, 0x03, 0x02, 0x01, 0x00]);

        var error = Assert.Throws<DeviceKeyStoreException>(() => DeviceKeyStore.Load(_directory.FullName));

        Assert.Contains(bad, error.Message, StringComparison.Ordinal);
        Assert.Throws<DeviceKeyStoreException>(() => DeviceKeyStore.Load(Path.Combine(_directory.FullName, "missing")));
    }

    [Fact]
    public void Identity_ReadsPkcs1Pkcs8AndPem_AndDerivesThePublicKeyFromTheModulus()
    {
        using DevicePrivateKey key = DevicePrivateKey.Generate();
        using var rsa = System.Security.Cryptography.RSA.Create();
        rsa.ImportRSAPrivateKey(key.ExportPkcs1Der(), out _);
        var id = Bulwark.Protocol.DeviceId.Parse("0123456789abcdef01234567");

        DeviceIdentity[] identities =
        [
            DeviceIdentity.FromKeyBytes(id, key.ExportPkcs1Der()),
            DeviceIdentity.FromKeyBytes(id, rsa.ExportPkcs8PrivateKey()),
            DeviceIdentity.FromKeyBytes(id, Encoding.ASCII.GetBytes(key.ExportPem())),
        ];

        foreach (DeviceIdentity identity in identities)
        {
            Assert.Equal(key.ExportPkcs1Der(), identity.PrivateKeyDer.ToArray());
            Assert.Equal(key.PublicKey.ToPem(), identity.GetPublicKeyPem());
        }

        using var rsa2048 = System.Security.Cryptography.RSA.Create(2048);
        Assert.ThrowsAny<Exception>(() => DeviceIdentity.FromKeyBytes(id, rsa2048.ExportRSAPrivateKey()));
    }

    [Fact]
    public void ServerKeyFile_ReadsPemSpkiAndTheTcpBlobWithItsAddress()
    {
        ServerPrivateKey server = TestCloud.ServerKey;
        byte[] spki = server.PublicKeySpki;

        ServerKeyInfo fromPem = ServerKeyFile.Parse(Encoding.ASCII.GetBytes(server.ExportPublicKeyPem()));
        ServerKeyInfo fromDer = ServerKeyFile.Parse(spki);
        ServerKeyInfo fromBlob = ServerKeyFile.Parse(ServerKeyBlob.ForTcp(spki, "cloud.example.com", 5684));

        Assert.Equal(spki.AsSpan(33, 256).ToArray(), fromPem.Key.Modulus.ToArray());
        Assert.Equal(spki.AsSpan(33, 256).ToArray(), fromDer.Key.Modulus.ToArray());
        Assert.Equal(spki.AsSpan(33, 256).ToArray(), fromBlob.Key.Modulus.ToArray());
        Assert.Equal(("cloud.example.com", (int?)5684), (fromBlob.Host, fromBlob.Port));
        Assert.Null(fromPem.Host);
    }

    [Fact]
    public void ServerKeyFile_RefusesGarbageAndTheUdpBlob()
    {
        Assert.Throws<FormatException>(() => ServerKeyFile.Parse("not a key"u8));
        Assert.Throws<FormatException>(() => ServerKeyFile.Parse(Encoding.ASCII.GetBytes("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")));
        Assert.Throws<FormatException>(() => ServerKeyFile.Parse(new byte[ServerKeyBlob.UdpLength]));
        Assert.Throws<FormatException>(() => ServerKeyFile.Parse(new byte[294]));
    }

    [Theory]
    [InlineData("127.0.0.1:5683", "127.0.0.1", 5683)]
    [InlineData("device.example.com", "device.example.com", 5683)]
    [InlineData("localhost:7000", "localhost", 7000)]
    [InlineData("[::1]:7000", "::1", 7000)]
    [InlineData("[::1]", "::1", 5683)]
    public void ServerAddress_ParsesHostAndOptionalPort(string text, string host, int port)
    {
        Assert.True(ServerAddress.TryParse(text, out ServerAddress? address));
        Assert.Equal(new ServerAddress(host, port), address);
    }

    [Theory]
    [InlineData("")]
    [InlineData("host:")]
    [InlineData("host:0")]
    [InlineData("host:70000")]
    [InlineData(":5683")]
    [InlineData("[::1]x")]
    public void ServerAddress_RefusesMalformedInput(string text) => Assert.False(ServerAddress.TryParse(text, out _));

    public void Dispose() => _directory.Delete(recursive: true);
}
