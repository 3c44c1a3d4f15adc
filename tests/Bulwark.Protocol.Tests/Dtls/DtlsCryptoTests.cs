using System.Security.Cryptography;
using System.Text;
using Bulwark.Protocol.Dtls;

namespace Bulwark.Protocol.Tests.Dtls;

// Fixed vectors, each computed by an independent implementation (commands beside them), so these check our bytes
// against OpenSSL 3.0 and pyca/cryptography rather than against themselves. Inputs: pre-master 00..1f,
// client_random 40..5f, server_random 60..7f (hex byte ranges).
public class DtlsCryptoTests
{
    private static readonly byte[] PreMaster = Range(0x00, 32);
    private static readonly byte[] ClientRandom = Range(0x40, 32);
    private static readonly byte[] ServerRandom = Range(0x60, 32);

    // openssl kdf -keylen 48 -kdfopt digest:SHA256 -kdfopt hexsecret:<pre-master> -kdfopt hexseed:<"master secret" ‖ cr ‖ sr> TLS1-PRF
    private const string MasterSecretHex = "00b8f04ffe7cd6d598e6634fda88e3c6e55e01d16e8d7a8c019cbadc333cca9109958c308c2cd097170a06f7cf69a581";

    // openssl kdf -keylen 40 ... -kdfopt hexsecret:<master> -kdfopt hexseed:<"key expansion" ‖ sr ‖ cr> TLS1-PRF
    private const string KeyBlockHex = "c41f323c44b8a33a1d79c574f4788dec6455b1738462ca988a08145b4dad01a97373b96cc4b684e1";

    [Fact]
    public void Prf_matches_the_published_tls12_sha256_vector()
    {
        // The TLS 1.2 PRF SHA-256 test vector posted to the IETF TLS list (also reproduced with openssl kdf TLS1-PRF).
        var output = new byte[100];
        DtlsPrf.Compute(Convert.FromHexString("9bbe436ba940f017b17652849a71db35"), "test label", Convert.FromHexString("a0ba9f936cda311827a6f796ffd5198c"), output);
        Assert.Equal(
            "e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66",
            Convert.ToHexString(output).ToLowerInvariant());
    }

    [Fact]
    public void Master_secret_and_key_block_match_openssl()
    {
        byte[] master = DtlsPrf.MasterSecret(PreMaster, ClientRandom, ServerRandom);
        Assert.Equal(MasterSecretHex, Hex(master));

        DtlsKeyBlock keys = DtlsPrf.KeyBlock(master, ClientRandom, ServerRandom);
        Assert.Equal(KeyBlockHex, Hex([.. keys.ClientWriteKey, .. keys.ServerWriteKey, .. keys.ClientWriteIv, .. keys.ServerWriteIv]));
        Assert.Equal("c41f323c44b8a33a1d79c574f4788dec", Hex(keys.ClientWriteKey));
        Assert.Equal("7373b96c", Hex(keys.ClientWriteIv));
        Assert.Equal("c4b684e1", Hex(keys.ServerWriteIv));
    }

    [Fact]
    public void Finished_verify_data_matches_openssl()
    {
        // openssl kdf -keylen 12 ... -kdfopt hexseed:<"client finished" ‖ SHA-256("handshake messages")> TLS1-PRF
        byte[] hash = SHA256.HashData("handshake messages"u8);
        Assert.Equal("591499c5a6cf025d26b11dbf", Hex(DtlsPrf.VerifyData(Convert.FromHexString(MasterSecretHex), client: true, hash)));
        Assert.Equal("33e0334d93b512f027386ea5", Hex(DtlsPrf.VerifyData(Convert.FromHexString(MasterSecretHex), client: false, hash)));
    }

    // python3: AESCCM(client_write_key, tag_length=8).encrypt(client_iv ‖ epoch ‖ seq, plaintext, aad), prefixed with epoch ‖ seq.
    [Fact]
    public void Ccm8_normal_record_matches_pyca_cryptography()
    {
        DtlsKeyBlock keys = DtlsPrf.KeyBlock(Convert.FromHexString(MasterSecretHex), ClientRandom, ServerRandom);
        using var protection = new DtlsRecordProtection(keys.ClientWriteKey, keys.ClientWriteIv);
        byte[] plaintext = "hello coap"u8.ToArray();
        var sealedRecord = new byte[plaintext.Length + DtlsRecordProtection.Overhead];
        protection.Seal(1, 5, DtlsContentType.ApplicationData, [], plaintext, sealedRecord);
        // aad = 0001000000000005 ‖ 17 ‖ fefd ‖ 000a
        Assert.Equal("00010000000000059dad5eb95ec74680a3904044cf6bbf6b8a18", Hex(sealedRecord));

        var opened = new byte[plaintext.Length];
        Assert.True(protection.TryOpen(1, 5, DtlsContentType.ApplicationData, [], sealedRecord, opened, out int length));
        Assert.Equal(plaintext, opened[..length]);
        Assert.False(protection.TryOpen(1, 6, DtlsContentType.ApplicationData, [], sealedRecord, opened, out _));
        Assert.False(protection.TryOpen(1, 5, DtlsContentType.Handshake, [], sealedRecord, opened, out _));
    }

    [Fact]
    public void Ccm8_cid_record_uses_the_draft05_additional_data()
    {
        DtlsKeyBlock keys = DtlsPrf.KeyBlock(Convert.FromHexString(MasterSecretHex), ClientRandom, ServerRandom);
        using var protection = new DtlsRecordProtection(keys.ClientWriteKey, keys.ClientWriteIv);
        byte[] cid = Convert.FromHexString("0102030405060708");
        byte[] inner = DtlsRecord.WrapInnerPlaintext(DtlsContentType.ApplicationData, "hello coap"u8);

        Span<byte> aad = stackalloc byte[DtlsRecordProtection.MaxAdditionalDataLength];
        int aadLength = DtlsRecordProtection.WriteAdditionalData(1, 6, DtlsContentType.ConnectionIdMoved, cid, inner.Length, aad);
        // seq_num(8) ‖ 25 ‖ version ‖ cid ‖ cid_len ‖ length: type 253 on the wire still authenticates as 25.
        Assert.Equal("000100000000000619fefd010203040506070808000b", Hex(aad[..aadLength].ToArray()));

        var sealedRecord = new byte[inner.Length + DtlsRecordProtection.Overhead];
        protection.Seal(1, 6, DtlsContentType.ConnectionId, cid, inner, sealedRecord);
        Assert.Equal("0001000000000006a246280202d5e5ffd4d02dcb3fba589fce3124", Hex(sealedRecord));

        var opened = new byte[inner.Length];
        Assert.True(protection.TryOpen(1, 6, DtlsContentType.ConnectionIdMoved, cid, sealedRecord, opened, out int length));
        Assert.True(DtlsRecord.TryUnwrapInnerPlaintext([.. opened[..length], 0, 0, 0], out DtlsContentType realType, out int contentLength));
        Assert.Equal(DtlsContentType.ApplicationData, realType);
        Assert.Equal("hello coap", Encoding.ASCII.GetString(opened, 0, contentLength));
        Assert.False(protection.TryOpen(1, 6, DtlsContentType.ConnectionId, Convert.FromHexString("0102030405060709"), sealedRecord, opened, out _));
    }

    // openssl ecparam -name prime256v1 -genkey; params = 03 0017 41 ‖ point;
    // openssl dgst -sha256 -sign server.pem over client_random ‖ server_random ‖ params (verified with -verify).
    private const string ServerKeyPem = """
-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg131Bgqtl8MqnrHLo
45056mKK2UwgmrIkb0of9dGoKvahRANCAATH5MX3FwKWVPgGVgXumH9ZkcjSoV1I
9LvT05WgNQJHOgzN/TxgNvpbVBH//UJ8KCN5GGPM3GfSiBto9zAo4eLX
-----END PRIVATE KEY-----
""";

    private const string EphemeralPointHex = "046ae477e258f48c4623c936005b0a454ab5d38774d8eb0ba38c354bd0a087cf1a7dea305c8c7c4408d2cd40370fe41fbbea577d64c4c014e60ce0a7e0df11633e";
    private const string OpenSslSignatureHex = "3044022018b60787801ce53e8afca2c91004b76034fbfd96eb7cedc7f042e011608c2b12022007d57ccd7c1c36736afc4bc1dfea468f427cce3d760111560b7edb2a38f5cba4";

    [Fact]
    public void Server_key_exchange_encodes_params_and_verifies_an_openssl_signature()
    {
        using var serverKey = ECDsa.Create();
        serverKey.ImportFromPem(ServerKeyPem);
        byte[] point = Convert.FromHexString(EphemeralPointHex);

        var fromOpenSsl = new DtlsServerKeyExchange(point, Convert.FromHexString(OpenSslSignatureHex));
        byte[] body = fromOpenSsl.ToArray();
        Assert.Equal("03001741" + EphemeralPointHex + "04030046" + OpenSslSignatureHex, Hex(body));
        Assert.True(DtlsServerKeyExchange.TryParse(body, out DtlsServerKeyExchange? parsed));
        Assert.True(parsed.Verify(serverKey, ClientRandom, ServerRandom));
        Assert.False(parsed.Verify(serverKey, ServerRandom, ClientRandom));

        // Our own signature (ECDSA is randomized) verifies with the public half alone, as the device does.
        DtlsServerKeyExchange ours = DtlsServerKeyExchange.Create(serverKey, ClientRandom, ServerRandom, point);
        using var publicOnly = ECDsa.Create();
        publicOnly.ImportSubjectPublicKeyInfo(serverKey.ExportSubjectPublicKeyInfo(), out _);
        Assert.True(ours.Verify(publicOnly, ClientRandom, ServerRandom));
    }

    private static byte[] Range(int first, int count) => Enumerable.Range(first, count).Select(i => (byte)i).ToArray();

    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();
}
