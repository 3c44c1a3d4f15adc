using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

/// <summary>The key registered for the device that presented a raw public key, and whatever identifies it to the caller.</summary>
public sealed record DtlsRegisteredKey(byte[] Spki, string? DeviceId = null);

/// <summary>Finds the registered key for a presented SPKI; null refuses the handshake.</summary>
public delegate DtlsRegisteredKey? DtlsDeviceKeyLookup(byte[] presentedSpki);

public enum DtlsHandshakeFailure
{
    None,
    Malformed,
    UnexpectedMessage,
    UnknownDeviceKey,
    BadKeyExchange,
    BadSignature,
    BadFinished,
}

/// <summary>
/// The server side of the Device OS handshake after the cookie exchange: ServerHello (8-byte CID, raw keys) ‖
/// ServerKeyExchange ‖ CertificateRequest ‖ ServerHelloDone, then the device's Certificate (raw SPKI),
/// ClientKeyExchange, CertificateVerify, CCS, Finished, and our CCS ‖ Finished. No I/O: it returns flights;
/// the caller sends them and resends <see cref="LastFlight"/> when its timer fires or <see cref="Handle"/> asks.
/// </summary>
public sealed class DtlsServerHandshake : IDisposable
{
    private readonly DtlsHashSigner _serverKey;
    private readonly DtlsDeviceKeyLookup? _lookup;
    private readonly DtlsRecordLayer _layer;
    private readonly byte[] _connectionId;
    private readonly IncrementalHash _transcript = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly ECDiffieHellman _ephemeral = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
    private DtlsHandshakeReassembler _reassembler = new();
    private int _nextSendSeq;
    private byte[]? _clientSpki;
    private Expect _expect = Expect.Certificate;

    /// <param name="lookup">Finds the registered key at once; null to pause at the Certificate instead (see
    /// <see cref="PendingKeyLookup"/>) so the owner can look the key up asynchronously.</param>
    public DtlsServerHandshake(ECDsa serverKey, DtlsDeviceKeyLookup? lookup, DtlsRecordLayer layer, byte[] connectionId)
        : this(DtlsHashSigner.For(serverKey), lookup, layer, connectionId)
    {
    }

    public DtlsServerHandshake(DtlsHashSigner serverKey, DtlsDeviceKeyLookup? lookup, DtlsRecordLayer layer, byte[] connectionId)
    {
        _serverKey = serverKey;
        _lookup = lookup;
        _layer = layer;
        _connectionId = connectionId;
    }

    private enum Expect
    {
        Certificate,
        ClientKeyExchange,
        CertificateVerify,
        Finished,
        Done,
    }

    public byte[] ClientRandom { get; private set; } = [];

    public byte[] ServerRandom { get; } = RandomNumberGenerator.GetBytes(DtlsPrf.RandomLength);

    public byte[]? MasterSecret { get; private set; }

    public DtlsRegisteredKey? RegisteredKey { get; private set; }

    public bool IsComplete => _expect == Expect.Done;

    /// <summary>The presented SPKI while the handshake waits for <see cref="ResumeAfterLookup"/>; null otherwise.</summary>
    public byte[]? PendingKeyLookup { get; private set; }

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

    /// <summary>What Device OS must offer: suite 0xC0AE, P-256, uncompressed points, raw keys both ways.</summary>
    public static bool IsAcceptable(DtlsClientHello hello) =>
        hello.CipherSuites.Contains(DtlsExtensions.CipherSuiteEcdheEcdsaAes128Ccm8)
        && hello.CompressionMethods.Contains((byte)0)
        && (hello.SupportedGroups.Count == 0 || hello.SupportedGroups.Contains(DtlsServerKeyExchange.Secp256r1))
        && (hello.PointFormats.Length == 0 || hello.PointFormats.Contains((byte)0))
        && hello.ClientCertificateTypes.Contains(DtlsExtensions.CertificateTypeRawPublicKey)
        && hello.ServerCertificateTypes.Contains(DtlsExtensions.CertificateTypeRawPublicKey);

    /// <summary>Answers a cookie-verified ClientHello with the second server flight.</summary>
    public IReadOnlyList<DtlsFlightEntry> Start(DtlsHandshakeMessage clientHelloMessage, DtlsClientHello clientHello)
    {
        ClientRandom = clientHello.Random;
        // The server's message_seq continues from the ClientHello's (RFC 6347 4.2.2; mbedtls does the same).
        _nextSendSeq = clientHelloMessage.MessageSeq;
        _reassembler = new DtlsHandshakeReassembler(clientHelloMessage.MessageSeq + 1);
        _transcript.AppendData(clientHelloMessage.TranscriptBytes());

        ECParameters ephemeral = _ephemeral.ExportParameters(false);
        byte[] point = [0x04, .. ephemeral.Q.X!, .. ephemeral.Q.Y!];
        // Only hand out a CID to a client that asked for CIDs; Device OS always does.
        byte[]? cid = clientHello.ConnectionId is null ? null : _connectionId;
        _layer.ReceiveCid = cid ?? [];
        _layer.SendCid = clientHello.ConnectionId ?? [];
        LastFlight =
        [
            Outgoing(DtlsHandshakeType.ServerHello, DtlsServerHello.ForDevice(ServerRandom, cid).ToArray()),
            Outgoing(DtlsHandshakeType.ServerKeyExchange, DtlsServerKeyExchange.Create(_serverKey, ClientRandom, ServerRandom, point).ToArray()),
            Outgoing(DtlsHandshakeType.CertificateRequest, DtlsCertificateRequest.Create()),
            Outgoing(DtlsHandshakeType.ServerHelloDone, []),
        ];
        return LastFlight;
    }

    /// <summary>
    /// Feeds one decoded record. Returns true when <see cref="LastFlight"/> should be sent now: a new flight, or the
    /// old one again because the peer retransmitted (it did not get ours).
    /// </summary>
    public bool Handle(DtlsContentType type, ReadOnlyMemory<byte> content)
    {
        if (Failure != DtlsHandshakeFailure.None)
        {
            return false;
        }

        if (type == DtlsContentType.ChangeCipherSpec)
        {
            return false;
        }

        if (type != DtlsContentType.Handshake)
        {
            return false;
        }

        bool resend = false;
        while (content.Length > 0)
        {
            if (!DtlsHandshakeFragment.TryParse(content, out DtlsHandshakeFragment? fragment, out int consumed))
            {
                break;
            }

            content = content[consumed..];
            // Only a repeat of the last message of the peer's flight before our last one shows that our flight was lost
            // (as mbedtls does): answering every repeated record, or repeats of the flight still being processed (a
            // device key lookup in progress), multiplies flights and, with loss and reordering, feeds a storm.
            resend |= !_reassembler.Add(fragment) && fragment.MessageSeq == _peerFlightStart - 1;
        }

        return Failure == DtlsHandshakeFailure.None && (ProcessReady() || resend);
    }

    /// <summary>Continues after an asynchronous key lookup; null refuses the device. True when a flight is due.</summary>
    public bool ResumeAfterLookup(DtlsRegisteredKey? key)
    {
        byte[] spki = PendingKeyLookup ?? throw new InvalidOperationException("No key lookup is pending.");
        PendingKeyLookup = null;
        AcceptCertificate(spki, key);
        return Failure == DtlsHandshakeFailure.None && ProcessReady();
    }

    // Messages stay in the reassembler while a lookup is pending, so nothing is lost or reordered by the wait.
    private bool ProcessReady()
    {
        bool progressed = false;
        while (Failure == DtlsHandshakeFailure.None && PendingKeyLookup is null && _reassembler.TryTake(out DtlsHandshakeMessage? message))
        {
            progressed |= Process(message);
        }

        return progressed;
    }

    private void AcceptCertificate(byte[] spki, DtlsRegisteredKey? key)
    {
        RegisteredKey = key;
        if (key is null || !key.Spki.AsSpan().SequenceEqual(spki))
        {
            Fail(DtlsHandshakeFailure.UnknownDeviceKey);
            return;
        }

        _clientSpki = spki;
        _expect = Expect.ClientKeyExchange;
    }

    private bool Process(DtlsHandshakeMessage message)
    {
        switch (_expect, message.Type)
        {
            case (Expect.Certificate, DtlsHandshakeType.Certificate):
                if (!DtlsRawPublicKeyCertificate.TryParse(message.Body, out byte[]? spki))
                {
                    return Fail(DtlsHandshakeFailure.Malformed);
                }

                _transcript.AppendData(message.TranscriptBytes());
                if (_lookup is null)
                {
                    PendingKeyLookup = spki;
                    return false;
                }

                AcceptCertificate(spki, _lookup(spki));
                return false;

            case (Expect.ClientKeyExchange, DtlsHandshakeType.ClientKeyExchange):
                if (!DtlsClientKeyExchange.TryParse(message.Body, out byte[]? point) || !TryAgree(point, out byte[]? preMaster))
                {
                    return Fail(DtlsHandshakeFailure.BadKeyExchange);
                }

                MasterSecret = DtlsPrf.MasterSecret(preMaster, ClientRandom, ServerRandom);
                CryptographicOperations.ZeroMemory(preMaster);
                _layer.InstallKeys(DtlsPrf.KeyBlock(MasterSecret, ClientRandom, ServerRandom), isServer: true);
                _transcript.AppendData(message.TranscriptBytes());
                _expect = Expect.CertificateVerify;
                return false;

            case (Expect.CertificateVerify, DtlsHandshakeType.CertificateVerify):
                // The device signs the transcript up to and including ClientKeyExchange, with the registered key.
                if (!DtlsCertificateVerify.TryParse(message.Body, out byte[]? signature)
                    || !DtlsCertificateVerify.Verify(RegisteredKey!.Spki, _transcript.GetCurrentHash(), signature))
                {
                    return Fail(DtlsHandshakeFailure.BadSignature);
                }

                _transcript.AppendData(message.TranscriptBytes());
                _expect = Expect.Finished;
                return false;

            case (Expect.Finished, DtlsHandshakeType.Finished):
                byte[] expected = DtlsPrf.VerifyData(MasterSecret!, client: true, _transcript.GetCurrentHash());
                if (!CryptographicOperations.FixedTimeEquals(expected, message.Body))
                {
                    return Fail(DtlsHandshakeFailure.BadFinished);
                }

                _transcript.AppendData(message.TranscriptBytes());
                byte[] serverVerify = DtlsPrf.VerifyData(MasterSecret!, client: false, _transcript.GetCurrentHash());
                LastFlight =
                [
                    DtlsFlightEntry.ChangeCipherSpec(),
                    DtlsFlightEntry.ForHandshake(new DtlsHandshakeMessage(DtlsHandshakeType.Finished, _nextSendSeq++, serverVerify), epoch: 1),
                ];
                _expect = Expect.Done;
                return true;

            default:
                return Fail(DtlsHandshakeFailure.UnexpectedMessage);
        }
    }

    private DtlsFlightEntry Outgoing(DtlsHandshakeType type, byte[] body)
    {
        var message = new DtlsHandshakeMessage(type, _nextSendSeq++, body);
        _transcript.AppendData(message.TranscriptBytes());
        return DtlsFlightEntry.ForHandshake(message, epoch: 0);
    }

    private bool TryAgree(byte[] point, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? preMaster) =>
        DtlsEcdhe.TryAgree(_ephemeral, point, out preMaster);

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

/// <summary>ECDHE on P-256: the pre-master secret is the shared point's X coordinate (RFC 8422 5.10).</summary>
internal static class DtlsEcdhe
{
    public static bool TryAgree(ECDiffieHellman own, byte[] peerPoint, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out byte[]? preMaster)
    {
        preMaster = null;
        try
        {
            using var peer = ECDiffieHellman.Create(new ECParameters
            {
                Curve = ECCurve.NamedCurves.nistP256,
                Q = new ECPoint { X = peerPoint[1..33], Y = peerPoint[33..65] },
            });
            preMaster = own.DeriveRawSecretAgreement(peer.PublicKey);
            return true;
        }
        catch (Exception ex) when (ex is CryptographicException or PlatformNotSupportedException)
        {
            return false;
        }
    }

    public static byte[] PublicPoint(ECDiffieHellman key)
    {
        ECParameters parameters = key.ExportParameters(false);
        return [0x04, .. parameters.Q.X!, .. parameters.Q.Y!];
    }
}
