using System.Security.Cryptography;
using Bulwark.Protocol.Dtls;

namespace Bulwark.Protocol.Tests.Dtls;

public class DtlsRecordAndHandshakeTests
{
    [Fact]
    public void Record_header_round_trips_with_and_without_cid()
    {
        var plain = new DtlsRecord(DtlsContentType.Handshake, 0, 0x0000_1234_5678_9ABC, ReadOnlyMemory<byte>.Empty, new byte[] { 1, 2, 3 });
        byte[] bytes = plain.ToArray();
        Assert.Equal("16fefd000012345678" + "9abc0003010203", Convert.ToHexString(bytes).ToLowerInvariant());
        Assert.True(DtlsRecord.TryParse(bytes, 8, out DtlsRecord? parsed, out int consumed));
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(plain.Sequence, parsed.Sequence);

        byte[] cid = [1, 2, 3, 4, 5, 6, 7, 8];
        var withCid = new DtlsRecord(DtlsContentType.ConnectionIdMoved, 1, 7, cid, new byte[20]);
        Assert.True(DtlsRecord.TryParse(withCid.ToArray(), 8, out parsed, out _));
        Assert.Equal(cid, parsed.Cid.ToArray());
        Assert.Equal(20, parsed.Fragment.Length);
        Assert.False(DtlsRecord.TryParse(withCid.ToArray(), 0, out _, out _));
        Assert.False(DtlsRecord.TryParse(bytes[..^1], 8, out _, out _));
        Assert.Equal(2, DtlsRecord.ParseDatagram((byte[])[.. bytes, .. withCid.ToArray()], 8).Count);
    }

    [Fact]
    public void Replay_window_slides_over_64_records()
    {
        var window = new DtlsReplayWindow();
        Assert.True(window.MayAccept(100));
        window.Accept(100);
        Assert.False(window.MayAccept(100));
        Assert.True(window.MayAccept(99));
        window.Accept(99);
        Assert.False(window.MayAccept(99));
        Assert.True(window.MayAccept(37));
        Assert.False(window.MayAccept(36));
        window.Accept(200);
        Assert.False(window.MayAccept(100));
        Assert.True(window.MayAccept(150));
        Assert.True(window.MayAccept(201));
    }

    [Fact]
    public void Fragments_reassemble_out_of_order_and_retransmissions_are_reported()
    {
        var message = new DtlsHandshakeMessage(DtlsHandshakeType.Certificate, 2, RandomNumberGenerator.GetBytes(500));
        List<DtlsHandshakeFragment> fragments = message.Fragment(100).ToList();
        Assert.True(fragments.Count > 4);
        var reassembler = new DtlsHandshakeReassembler(2);
        foreach (DtlsHandshakeFragment fragment in fragments.AsEnumerable().Reverse())
        {
            Assert.False(reassembler.TryTake(out _));
            byte[] wire = fragment.ToArray();
            Assert.True(DtlsHandshakeFragment.TryParse(wire, out DtlsHandshakeFragment? parsed, out _));
            Assert.True(reassembler.Add(parsed));
        }

        Assert.True(reassembler.TryTake(out DtlsHandshakeMessage? whole));
        Assert.Equal(message.Body, whole.Body);
        Assert.False(reassembler.Add(fragments[0]));
    }

    [Fact]
    public void Device_os_client_hello_parses_with_its_extensions()
    {
        DtlsClientHello hello = DtlsClientHello.DeviceOs(new byte[32], [9, 9]);
        Assert.True(DtlsClientHello.TryParse(hello.ToArray(), out DtlsClientHello? parsed));
        Assert.Equal([DtlsServerKeyExchange.Secp256r1], parsed.SupportedGroups);
        Assert.Equal([0x0403, 0x0401, 0x0303, 0x0301], parsed.SignatureAlgorithms.Select(a => (int)a));
        Assert.Equal([DtlsExtensions.CertificateTypeRawPublicKey], parsed.ClientCertificateTypes);
        Assert.Equal([DtlsExtensions.CertificateTypeRawPublicKey], parsed.ServerCertificateTypes);
        Assert.Equal([(byte)0], parsed.PointFormats);
        Assert.Empty(parsed.ConnectionId!);
        Assert.Equal([9, 9], parsed.Cookie);
        Assert.True(DtlsServerHandshake.IsAcceptable(parsed));
        Assert.False(DtlsClientHello.TryParse(hello.ToArray()[..^1], out _));
    }

    [Fact]
    public void In_memory_handshake_completes_and_carries_cid_application_data()
    {
        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] deviceSpki = deviceKey.ExportSubjectPublicKeyInfo();
        using var serverPublic = ECDsa.Create();
        serverPublic.ImportSubjectPublicKeyInfo(serverKey.ExportSubjectPublicKeyInfo(), out _);
        byte[] cid = RandomNumberGenerator.GetBytes(8);

        using var clientLayer = new DtlsRecordLayer();
        using var serverLayer = new DtlsRecordLayer();
        using var client = new DtlsClientHandshake(deviceKey, serverPublic, clientLayer);
        using var server = new DtlsServerHandshake(serverKey, spki => spki.AsSpan().SequenceEqual(deviceSpki) ? new DtlsRegisteredKey(deviceSpki, "dev") : null, serverLayer, cid);

        List<byte[]> toServer = clientLayer.Pack(client.Start(), 1200);
        DtlsRecord hello = DtlsRecord.ParseDatagram(toServer[0], 8).Single();
        Assert.True(DtlsHandshakeFragment.TryParse(hello.Fragment, out DtlsHandshakeFragment? fragment, out _));
        var helloMessage = new DtlsHandshakeMessage(fragment.Type, fragment.MessageSeq, fragment.Bytes.ToArray());
        Assert.True(DtlsClientHello.TryParse(helloMessage.Body, out DtlsClientHello? parsedHello));
        List<byte[]> toClient = serverLayer.Pack(server.Start(helloMessage, parsedHello), 1200);

        for (int round = 0; round < 4 && !(client.IsComplete && server.IsComplete); round++)
        {
            toServer = Deliver(toClient, clientLayer, 0, client.Handle) ? clientLayer.Pack(client.LastFlight, 1200) : [];
            toClient = Deliver(toServer, serverLayer, 8, server.Handle) ? serverLayer.Pack(server.LastFlight, 1200) : [];
        }

        Assert.Equal(DtlsHandshakeFailure.None, client.Failure);
        Assert.Equal(DtlsHandshakeFailure.None, server.Failure);
        Assert.True(server.IsComplete);
        Assert.True(client.IsComplete);
        Assert.Equal(cid, client.ConnectionId);
        Assert.Equal("dev", server.RegisteredKey!.DeviceId);
        Assert.Equal(client.MasterSecret, server.MasterSecret);

        byte[] up = clientLayer.Encode(DtlsContentType.ApplicationData, 1, "coap up"u8);
        DtlsRecord upRecord = DtlsRecord.ParseDatagram(up, 8).Single();
        Assert.Equal(DtlsContentType.ConnectionId, upRecord.Type);
        Assert.True(serverLayer.TryDecode(upRecord, out DtlsContentType type, out ReadOnlyMemory<byte> content));
        Assert.Equal(DtlsContentType.ApplicationData, type);
        Assert.Equal("coap up"u8.ToArray(), content.ToArray());
        Assert.False(serverLayer.TryDecode(upRecord, out _, out _));

        byte[] down = serverLayer.Encode(DtlsContentType.ApplicationData, 1, "coap down"u8);
        Assert.Equal((byte)DtlsContentType.ApplicationData, down[0]);
        Assert.True(clientLayer.TryDecode(DtlsRecord.ParseDatagram(down, 0).Single(), out _, out content));
        Assert.Equal("coap down"u8.ToArray(), content.ToArray());
    }

    private static bool Deliver(List<byte[]> datagrams, DtlsRecordLayer layer, int cidLength, Func<DtlsContentType, ReadOnlyMemory<byte>, bool> handle)
    {
        bool send = false;
        foreach (byte[] datagram in datagrams)
        {
            foreach (DtlsRecord record in DtlsRecord.ParseDatagram(datagram, cidLength))
            {
                if (layer.TryDecode(record, out DtlsContentType type, out ReadOnlyMemory<byte> content))
                {
                    send |= handle(type, content);
                }
            }
        }

        return send;
    }
}
