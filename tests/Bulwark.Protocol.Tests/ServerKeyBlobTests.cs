using Bulwark.Protocol.Keys;
using static Bulwark.Protocol.Tests.TestVectors;

namespace Bulwark.Protocol.Tests;

public class ServerKeyBlobTests
{
    [Fact]
    public void Tcp_blob_with_ipv4_and_port_has_the_particle_cli_layout()
    {
        byte[] spki = Bytes(ServerPublicSpkiHex);
        byte[] blob = ServerKeyBlob.ForTcp(spki, "127.0.0.1", 5683);
        Assert.Equal(512, blob.Length);
        Assert.Equal(spki, blob[..294]);
        Assert.All(blob[294..384], b => Assert.Equal(0xFF, b));
        Assert.Equal("00047F000001", Convert.ToHexString(blob.AsSpan(384, 6)));
        Assert.All(blob[390..450], b => Assert.Equal(0xFF, b));
        Assert.Equal("1633", Convert.ToHexString(blob.AsSpan(450, 2)));
        Assert.All(blob[452..], b => Assert.Equal(0xFF, b));
        Assert.True(ServerKeyBlob.TryParse(blob, out ServerKeyBlobContents? contents));
        Assert.Equal("127.0.0.1", contents.Host);
        Assert.Equal(5683, contents.Port);
        Assert.Equal(spki, contents.PublicKey);
    }

    [Fact]
    public void Tcp_blob_with_domain_and_no_port()
    {
        byte[] blob = ServerKeyBlob.ForTcp(Bytes(ServerPublicSpkiHex), "cloud.example.com");
        Assert.Equal("0111" + Convert.ToHexString("cloud.example.com"u8), Convert.ToHexString(blob.AsSpan(384, 19)));
        Assert.Equal("FFFF", Convert.ToHexString(blob.AsSpan(450, 2)));
        Assert.True(ServerKeyBlob.TryParse(blob, out ServerKeyBlobContents? contents));
        Assert.Equal("cloud.example.com", contents.Host);
        Assert.Null(contents.Port);
        // The device still finds the modulus at offset 33 of the blob.
        Assert.Equal(ServerPublicKey.FromSpki(Bytes(ServerPublicSpkiHex)).Modulus.ToArray(), ServerPublicKey.FromSpki(blob).Modulus.ToArray());
    }

    [Fact]
    public void Udp_blob_is_320_bytes_with_address_at_192()
    {
        using var ec = System.Security.Cryptography.ECDsa.Create(System.Security.Cryptography.ECCurve.NamedCurves.nistP256);
        byte[] spki = ec.ExportSubjectPublicKeyInfo();
        Assert.Equal(91, spki.Length);
        byte[] blob = ServerKeyBlob.ForUdp(spki, "10.0.0.2", 5684);
        Assert.Equal(320, blob.Length);
        Assert.Equal("00040A000002", Convert.ToHexString(blob.AsSpan(192, 6)));
        Assert.Equal("1634", Convert.ToHexString(blob.AsSpan(258, 2)));
        Assert.True(ServerKeyBlob.TryParse(blob, out ServerKeyBlobContents? contents));
        Assert.Equal(5684, contents.Port);
    }

    [Fact]
    public void Bad_inputs_are_refused()
    {
        byte[] spki = Bytes(ServerPublicSpkiHex);
        Assert.Throws<ArgumentException>(() => ServerKeyBlob.ForTcp(spki.AsSpan(1), "h"));
        Assert.Throws<ArgumentException>(() => ServerKeyBlob.ForTcp(spki, "bad host/name"));
        Assert.Throws<ArgumentException>(() => ServerKeyBlob.ForTcp(spki, new string('a', 65), 5683));
        Assert.Equal(126, ServerKeyBlob.TryParse(ServerKeyBlob.ForTcp(spki, new string('a', 126)), out ServerKeyBlobContents? longName) ? longName.Host!.Length : 0);
        Assert.False(ServerKeyBlob.TryParse(new byte[100], out _));
    }
}
