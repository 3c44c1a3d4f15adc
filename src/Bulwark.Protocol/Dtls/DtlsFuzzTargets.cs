using System.Net;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// The DTLS fuzz targets for <see cref="Fuzzing.ProtocolFuzzer"/>: record parsing and decryption, handshake fragments,
/// reassembly and every handshake body parser, and the whole server datagram path. The corpus is a real handshake
/// run in memory, so mutations start from bytes a device and the server actually exchange.
/// </summary>
internal sealed class DtlsFuzzTargets : IDisposable
{
    private static readonly IPEndPoint Peer = new(IPAddress.Loopback, 40000);

    private readonly ECDsa _serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly ECDsa _deviceKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private readonly DtlsRecordLayer _serverLayer = new();
    private readonly DtlsServer _server;
    private readonly byte[][] _datagrams;
    private readonly byte[][] _handshakeRecords;

    public DtlsFuzzTargets()
    {
        byte[] deviceSpki = _deviceKey.ExportSubjectPublicKeyInfo();
        using var serverPublic = ECDsa.Create();
        serverPublic.ImportSubjectPublicKeyInfo(_serverKey.ExportSubjectPublicKeyInfo(), out _);
        byte[] cid = RandomNumberGenerator.GetBytes(8);
        using var clientLayer = new DtlsRecordLayer();
        using var client = new DtlsClientHandshake(_deviceKey, serverPublic, clientLayer);
        using var server = new DtlsServerHandshake(_serverKey, spki => new DtlsRegisteredKey(deviceSpki), _serverLayer, cid);

        var datagrams = new List<byte[]>(clientLayer.Pack(client.Start(), 1200));
        DtlsRecord helloRecord = DtlsRecord.ParseDatagram(datagrams[0], 8)[0];
        DtlsHandshakeFragment.TryParse(helloRecord.Fragment, out DtlsHandshakeFragment? helloFragment, out _);
        var helloMessage = new DtlsHandshakeMessage(DtlsHandshakeType.ClientHello, 0, helloFragment!.Bytes.ToArray());
        DtlsClientHello.TryParse(helloMessage.Body, out DtlsClientHello? hello);
        List<byte[]> toClient = _serverLayer.Pack(server.Start(helloMessage, hello!), 1200);
        datagrams.AddRange(toClient);
        List<byte[]> toServer = Exchange(toClient, clientLayer, client.Handle, client, 0);
        datagrams.AddRange(toServer);
        datagrams.AddRange(Exchange(toServer, _serverLayer, server.Handle, server, 8));
        datagrams.Add(clientLayer.Encode(DtlsContentType.ApplicationData, 1, "\x40\x00\x00\x01"u8));
        clientLayer.SendMovedType = true;
        datagrams.Add(clientLayer.Encode(DtlsContentType.ApplicationData, 1, "\x40\x00\x00\x02"u8));
        datagrams.Add(new DtlsRecord(DtlsContentType.Handshake, 0, 0, ReadOnlyMemory<byte>.Empty,
            new DtlsHandshakeFragment(DtlsHandshakeType.HelloVerifyRequest, 35, 0, 0, new DtlsHelloVerifyRequest(new byte[32]).ToArray()).ToArray()).ToArray());
        _datagrams = [.. datagrams];
        _handshakeRecords = [.. _datagrams.SelectMany(d => DtlsRecord.ParseDatagram(d, 8)).Where(r => r.Epoch == 0 && r.Type == DtlsContentType.Handshake).Select(r => r.Fragment.ToArray())];
        _server = new DtlsServer(_serverKey, spki => null, new DtlsServerOptions { MaxPendingHandshakes = 64 });
    }

    public int SessionCount => _server.SessionCount;

    /// <summary>Mutated datagrams through the record parser and the epoch-1 decryption of an established session.</summary>
    public bool FuzzRecord(byte[] input)
    {
        bool any = false;
        foreach (DtlsRecord record in DtlsRecord.ParseDatagram(input, 8))
        {
            _ = record.ToArray();
            if (record.Epoch == 1 && _serverLayer.TryDecode(record, out _, out _))
            {
                any = true;
            }

            any |= record.Epoch == 0;
        }

        DtlsRecord.TryUnwrapInnerPlaintext(input, out _, out _);
        return any;
    }

    /// <summary>Handshake record contents: fragments, reassembly, and every body parser on the reassembled message.</summary>
    public bool FuzzHandshake(byte[] input)
    {
        var reassembler = new DtlsHandshakeReassembler();
        ReadOnlyMemory<byte> rest = input;
        bool any = false;
        while (rest.Length > 0 && DtlsHandshakeFragment.TryParse(rest, out DtlsHandshakeFragment? fragment, out int consumed))
        {
            rest = rest[consumed..];
            reassembler = new DtlsHandshakeReassembler(fragment.MessageSeq);
            reassembler.Add(fragment);
            if (reassembler.TryTake(out DtlsHandshakeMessage? message))
            {
                any |= ParseBody(message.Type, message.Body);
            }
        }

        return any;
    }

    /// <summary>A whole datagram into the server (no socket): cookie path, CID lookup, handshake state.</summary>
    public bool FuzzServer(byte[] input)
    {
        DtlsDatagramResult result = _server.ProcessDatagram(input, Peer);
        _server.OnTimer();
        return result.Replies.Count > 0 || result.ApplicationData.Count > 0;
    }

    public byte[] PickDatagram(Random random) => _datagrams[random.Next(_datagrams.Length)];

    public byte[] PickHandshakeRecord(Random random) => _handshakeRecords[random.Next(_handshakeRecords.Length)];

    private static bool ParseBody(DtlsHandshakeType type, byte[] body) => type switch
    {
        DtlsHandshakeType.ClientHello => DtlsClientHello.TryParse(body, out DtlsClientHello? hello) && Exercise(hello),
        DtlsHandshakeType.ServerHello => DtlsServerHello.TryParse(body, out _),
        DtlsHandshakeType.HelloVerifyRequest => DtlsHelloVerifyRequest.TryParse(body, out _),
        DtlsHandshakeType.ServerKeyExchange => DtlsServerKeyExchange.TryParse(body, out _),
        DtlsHandshakeType.CertificateRequest => DtlsCertificateRequest.TryParse(body),
        DtlsHandshakeType.Certificate => DtlsRawPublicKeyCertificate.TryParse(body, out _),
        DtlsHandshakeType.ClientKeyExchange => DtlsClientKeyExchange.TryParse(body, out _),
        DtlsHandshakeType.CertificateVerify => DtlsCertificateVerify.TryParse(body, out _),
        _ => false,
    };

    private static bool Exercise(DtlsClientHello hello)
    {
        _ = hello.SupportedGroups;
        _ = hello.SignatureAlgorithms;
        _ = hello.PointFormats;
        _ = hello.ConnectionId;
        _ = DtlsServerHandshake.IsAcceptable(hello);
        return hello.ToArray().Length > 0;
    }

    private static List<byte[]> Exchange(List<byte[]> datagrams, DtlsRecordLayer layer, Func<DtlsContentType, ReadOnlyMemory<byte>, bool> handle, object handshake, int cidLength)
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

        IReadOnlyList<DtlsFlightEntry> flight = handshake is DtlsClientHandshake c ? c.LastFlight : ((DtlsServerHandshake)handshake).LastFlight;
        return send ? layer.Pack(flight, 1200) : [];
    }

    public void Dispose()
    {
        _server.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _serverLayer.Dispose();
        _serverKey.Dispose();
        _deviceKey.Dispose();
    }
}
