using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Threading.Channels;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Dtls;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

/// <summary>
/// A minimal Gen3 cloud on a loopback UDP port, built only from the Protocol library: the real <see cref="DtlsServer"/>
/// for registered EC keys and a <see cref="CoapDatagramChannel"/> per DTLS session, handed to the test as a
/// <see cref="TestConnection"/> when the handshake completes. As a real cloud must, it acknowledges the device's
/// confirmable messages (time requests with ACK 2.05) unless the test sets <see cref="TestConnection.Answer"/> itself.
/// </summary>
internal sealed class TestDtlsCloud : IAsyncDisposable
{
    private static readonly Lazy<ECDsa> SharedKey = new(() => ECDsa.Create(ECCurve.NamedCurves.nistP256));

    private readonly DtlsServer _server;
    private readonly ConcurrentDictionary<string, DeviceId> _registered = new();
    private readonly Channel<TestConnection> _accepted = Channel.CreateUnbounded<TestConnection>();
    private readonly ConcurrentBag<TestConnection> _connections = [];

    private TestDtlsCloud()
    {
        _server = new DtlsServer(SharedKey.Value, Lookup, new DtlsServerOptions
        {
            EndPoint = new IPEndPoint(IPAddress.Loopback, 0),
            InitialRetransmitTimeout = TimeSpan.FromMilliseconds(300),
        });
        _server.OnSessionEstablished = Accept;
        _server.OnApplicationData = (session, payload) =>
        {
            (session.Tag as CoapDatagramChannel)?.Deliver(payload);
            return ValueTask.CompletedTask;
        };
        _server.Start();
    }

    /// <summary>The server's EC key as a device holds it: SubjectPublicKeyInfo DER.</summary>
    public static byte[] ServerPublicKeySpki => SharedKey.Value.ExportSubjectPublicKeyInfo();

    /// <summary>Short CoAP and DTLS timers so retransmission and give-up paths take a few seconds at most (a CON is
    /// given up after about 3 s: shorter failed under CI load, when the test cloud took over a second to answer).</summary>
    public static VirtualDeviceOptions Quiet { get; } = new()
    {
        Transport = DeviceTransport.Udp,
        ServerEcPublicKey = ServerPublicKeySpki,
        PingInterval = null,
        DtlsRetransmitTimeout = TimeSpan.FromMilliseconds(300),
        CoapOptions = new CoapDatagramOptions { AckTimeout = TimeSpan.FromMilliseconds(200), MaxRetransmit = 3 },
    };

    public DtlsServer Server => _server;

    /// <summary>The <see cref="TestConnection.Answer"/> each new session starts with (set it before the device connects
    /// to hold back the Hello's ACK, which otherwise goes out before the test sees the connection).</summary>
    public Func<CoapMessage, CoapMessage?> AnswerNewConnections { get; set; } = DefaultAnswer;

    public string Host => "127.0.0.1";

    public int Port => _server.LocalEndPoint.Port;

    public static TestDtlsCloud Start() => new();

    public void Register(DeviceIdentity identity)
    {
        using var key = ECDsa.Create();
        key.ImportFromPem(identity.GetEcPublicKeyPem());
        _registered[Convert.ToHexString(key.ExportSubjectPublicKeyInfo())] = identity.Id;
    }

    /// <summary>A device with a fresh identity, registered here unless told otherwise.</summary>
    public VirtualDevice CreateDevice(VirtualDeviceOptions? options = null, bool register = true)
    {
        DeviceIdentity identity = DeviceIdentity.Generate();
        if (register)
        {
            Register(identity);
        }

        return new VirtualDevice(identity, serverKey: null, Host, Port, options ?? Quiet);
    }

    /// <summary>The next device session to complete a full DTLS handshake.</summary>
    public async Task<TestConnection> AcceptAsync(CancellationToken cancellationToken = default) =>
        await _accepted.Reader.ReadAsync(cancellationToken);

    /// <summary>Connects and returns the cloud's side of the new session.</summary>
    public async Task<TestConnection> ConnectAsync(VirtualDevice device, CancellationToken cancellationToken)
    {
        Task<TestConnection> accepted = AcceptAsync(cancellationToken);
        await device.ConnectAsync(cancellationToken);
        return await accepted;
    }

    /// <summary>What the cloud sends back for a device's CON when the test does not say otherwise.</summary>
    public static CoapMessage DefaultAnswer(CoapMessage request) =>
        ParticleMessageClassifier.Classify(request) == ParticleMessageKind.TimeRequest
            ? ParticleMessages.TimeResponse(request, 1_700_000_000)
            : ParticleMessages.EmptyAck(request.MessageId);

    private DtlsRegisteredKey? Lookup(byte[] spki) =>
        _registered.TryGetValue(Convert.ToHexString(spki), out DeviceId id) ? new DtlsRegisteredKey(spki, id.ToString()) : null;

    private void Accept(DtlsSession session)
    {
        var channel = new CoapDatagramChannel((bytes, token) => _server.SendAsync(session, bytes, token), (ushort)RandomNumberGenerator.GetInt32(65536),
            new CoapDatagramOptions { AckTimeout = TimeSpan.FromMilliseconds(150) });
        session.Tag = channel;
        var connection = new TestConnection(channel, DeviceId.Parse(session.RegisteredKey!.DeviceId!), handshake: null, ended: () => { })
        {
            Answer = AnswerNewConnections,
            DtlsSession = session,
        };
        _connections.Add(connection);
        _accepted.Writer.TryWrite(connection);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (TestConnection connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _server.DisposeAsync();
    }
}
