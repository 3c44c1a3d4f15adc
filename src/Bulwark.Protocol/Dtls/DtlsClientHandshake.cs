using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>
/// The device side of the handshake, as Device OS's mbedtls does it (the simulator and tests use it): ClientHello,
/// the cookie retry, then Certificate (raw SPKI) ‖ ClientKeyExchange ‖ CertificateVerify ‖ CCS ‖ Finished. The
/// server's key comes from the device's flash, not from a Certificate message. No I/O, like the server side.
/// </summary>
public sealed class DtlsClientHandshake : IDisposable
{
    private readonly ECDsa _deviceKey;
    private readonly byte[] _deviceSpki;
    private readonly ECDsa _serverPublicKey;
    private readonly DtlsRecordLayer _layer;
    private readonly DtlsHandshakeReassembler _reassembler = new();
    private readonly ECDiffieHellman _ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    private IncrementalHash _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private int _nextSendSeq;
    private DtlsServerKeyExchange? _serverKeyExchange;
    private bool _certificateRequested;
    private Expect _expect = Expect.ServerHello;

    public DtlsClientHandshake(ECDsa deviceKey, ECDsa serverPublicKey, DtlsRecordLayer layer)
    {
        _deviceKey = deviceKey;
        _deviceSpki = deviceKey.ExportSubjectPublicKeyInfo();
        _serverPublicKey = serverPublicKey;
        _layer = layer;
    }

    private enum Expect
    {
        ServerHello,
        ServerKeyExchange,
        CertificateRequestOrDone,
        ServerHelloDone,
        Finished,
        Done,
    }

    public byte[] ClientRandom { get; } = RandomNumberGenerator.GetBytes(DtlsPrf.RandomLength);

    public byte[] ServerRandom { get; private set; } = [];

    public byte[]? MasterSecret { get; private set; }

    /// <summary>The CID the server issued, which goes on every protected record we send.</summary>
    public byte[] ConnectionId { get; private set; } = [];

    public bool SawHelloVerifyRequest { get; private set; }

    public bool IsComplete => _expect == Expect.Done;

    public DtlsHandshakeFailure Failure { get; private set; }

    /// <summary>The flight to resend when the peer shows it did not arrive. Setting it notes where the peer's next
    /// flight starts, so repeats of the peer's previous flight can be told from repeats of its next.</summary>
    public IReadOnlyList<DtlsFlightEntry> LastFlight
    {
        get;
        private set
        {
            field = value;
            _peerFlightStart = _reassembler.NextMessageSeq;
        }
    } = [];

    private int _peerFlightStart;

    public IReadOnlyList<DtlsFlightEntry> Start() => SendClientHello([]);

    /// <summary>Feeds one decoded record; true when <see cref="LastFlight"/> should be sent now.</summary>
    public bool Handle(DtlsContentType type, ReadOnlyMemory<byte> content)
    {
        if (Failure != DtlsHandshakeFailure.None || type != DtlsContentType.Handshake)
        {
            return false;
        }

        bool resend = false;
        bool progressed = false;
        while (content.Length > 0 && DtlsHandshakeFragment.TryParse(content, out DtlsHandshakeFragment? fragment, out int consumed))
        {
            content = content[consumed..];
            // Only a repeat of the last message of the peer's flight before our last one shows that our flight was lost
            // (as mbedtls does): answering every repeated record, or repeats of the flight still being processed (a
            // device key lookup in progress), multiplies flights and, with loss and reordering, feeds a storm.
            resend |= !_reassembler.Add(fragment) && fragment.MessageSeq == _peerFlightStart - 1;
        }

        while (Failure == DtlsHandshakeFailure.None && _reassembler.TryTake(out DtlsHandshakeMessage? message))
        {
            progressed |= Process(message);
        }

        // A repeated server flight means our reply was lost, except once we are done (the server resends its Finished).
        return Failure == DtlsHandshakeFailure.None && (progressed || (resend && !IsComplete));
    }

    private bool Process(DtlsHandshakeMessage message)
    {
        switch (_expect, message.Type)
        {
            case (Expect.ServerHello, DtlsHandshakeType.HelloVerifyRequest):
                if (!DtlsHelloVerifyRequest.TryParse(message.Body, out DtlsHelloVerifyRequest? verify))
                {
                    return Fail(DtlsHandshakeFailure.Malformed);
                }

                // The first ClientHello and the HelloVerifyRequest stay out of the transcript (RFC 6347 4.2.6).
                SawHelloVerifyRequest = true;
                _transcript.Dispose();
                _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                SendClientHello(verify.Cookie);
                return true;

            case (Expect.ServerHello, DtlsHandshakeType.ServerHello):
                if (!DtlsServerHello.TryParse(message.Body, out DtlsServerHello? hello) || hello.CipherSuite != DtlsExtensions.CipherSuiteEcdheEcdsaAes128Ccm8)
                {
                    return Fail(DtlsHandshakeFailure.Malformed);
                }

                ServerRandom = hello.Random;
                // Device OS requires the 8-byte CID (SessionPersist::prepare_save fails without one).
                ConnectionId = hello.ConnectionId ?? [];
                _layer.SendCid = ConnectionId;
                Append(message);
                _expect = Expect.ServerKeyExchange;
                return false;

            case (Expect.ServerKeyExchange, DtlsHandshakeType.ServerKeyExchange):
                if (!DtlsServerKeyExchange.TryParse(message.Body, out _serverKeyExchange) || !_serverKeyExchange.Verify(_serverPublicKey, ClientRandom, ServerRandom))
                {
                    return Fail(DtlsHandshakeFailure.BadSignature);
                }

                Append(message);
                _expect = Expect.CertificateRequestOrDone;
                return false;

            case (Expect.CertificateRequestOrDone, DtlsHandshakeType.CertificateRequest):
                if (!DtlsCertificateRequest.TryParse(message.Body))
                {
                    return Fail(DtlsHandshakeFailure.Malformed);
                }

                _certificateRequested = true;
                Append(message);
                _expect = Expect.ServerHelloDone;
                return false;

            case (Expect.CertificateRequestOrDone or Expect.ServerHelloDone, DtlsHandshakeType.ServerHelloDone):
                Append(message);
                return SendKeyExchangeFlight();

            case (Expect.Finished, DtlsHandshakeType.Finished):
                byte[] expected = DtlsPrf.VerifyData(MasterSecret!, client: false, _transcript.GetCurrentHash());
                if (!CryptographicOperations.FixedTimeEquals(expected, message.Body))
                {
                    return Fail(DtlsHandshakeFailure.BadFinished);
                }

                _expect = Expect.Done;
                LastFlight = [];
                return false;

            default:
                return Fail(DtlsHandshakeFailure.UnexpectedMessage);
        }
    }

    private IReadOnlyList<DtlsFlightEntry> SendClientHello(byte[] cookie)
    {
        var message = new DtlsHandshakeMessage(DtlsHandshakeType.ClientHello, _nextSendSeq++, DtlsClientHello.DeviceOs(ClientRandom, cookie).ToArray());
        Append(message);
        LastFlight = [DtlsFlightEntry.ForHandshake(message, 0)];
        return LastFlight;
    }

    private bool SendKeyExchangeFlight()
    {
        if (!DtlsEcdhe.TryAgree(_ephemeral, _serverKeyExchange!.PublicPoint, out byte[]? preMaster))
        {
            return Fail(DtlsHandshakeFailure.BadKeyExchange);
        }

        MasterSecret = DtlsPrf.MasterSecret(preMaster, ClientRandom, ServerRandom);
        CryptographicOperations.ZeroMemory(preMaster);
        _layer.InstallKeys(DtlsPrf.KeyBlock(MasterSecret, ClientRandom, ServerRandom), isServer: false);

        var flight = new List<DtlsFlightEntry>();
        if (_certificateRequested)
        {
            flight.Add(Next(DtlsHandshakeType.Certificate, DtlsRawPublicKeyCertificate.Create(_deviceSpki)));
        }

        flight.Add(Next(DtlsHandshakeType.ClientKeyExchange, DtlsClientKeyExchange.Create(DtlsEcdhe.PublicPoint(_ephemeral))));
        if (_certificateRequested)
        {
            flight.Add(Next(DtlsHandshakeType.CertificateVerify, DtlsCertificateVerify.Create(_deviceKey, _transcript.GetCurrentHash())));
        }

        flight.Add(DtlsFlightEntry.ChangeCipherSpec());
        byte[] verifyData = DtlsPrf.VerifyData(MasterSecret, client: true, _transcript.GetCurrentHash());
        var finished = new DtlsHandshakeMessage(DtlsHandshakeType.Finished, _nextSendSeq++, verifyData);
        Append(finished);
        flight.Add(DtlsFlightEntry.ForHandshake(finished, epoch: 1));
        LastFlight = flight;
        _expect = Expect.Finished;
        return true;
    }

    private DtlsFlightEntry Next(DtlsHandshakeType type, byte[] body)
    {
        var message = new DtlsHandshakeMessage(type, _nextSendSeq++, body);
        Append(message);
        return DtlsFlightEntry.ForHandshake(message, 0);
    }

    private void Append(DtlsHandshakeMessage message) => _transcript.AppendData(message.TranscriptBytes());

    private bool Fail(DtlsHandshakeFailure failure)
    {
        Failure = failure;
        return false;
    }

    public void Dispose()
    {
        _transcript.Dispose();
        _ephemeral.Dispose();
    }
}
