using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Dtls;
using Bulwark.Protocol.Messages;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>A minimal Gen3 device built straight on the protocol library (DTLS client + CoAP datagram channel): enough
/// to drive the UDP gateway from tests. Answers the cloud's requests with piggybacked ACKs, as Device OS does on UDP.</summary>
internal sealed class TestGen3Device : IAsyncDisposable
{
    private readonly DtlsClient _dtls;
    private readonly CoapDatagramChannel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pump;
    private readonly Task _loop;

    private TestGen3Device(DtlsClient dtls, ushort firstMessageId)
    {
        _dtls = dtls;
        _channel = new CoapDatagramChannel((d, t) => _dtls.SendAsync(d, t), firstMessageId,
            new CoapDatagramOptions { AckTimeout = TimeSpan.FromMilliseconds(500) });
        _pump = Task.Run(PumpAsync);
        _loop = Task.Run(ReadLoopAsync);
    }

    public Dictionary<string, Func<string, int>> Functions { get; } = [];
    public Dictionary<string, Func<byte[]>> Variables { get; } = [];
    public Channel<CoapMessage> Received { get; } = Channel.CreateUnbounded<CoapMessage>();
    public TaskCompletionSource<CoapMessage> KeyChange { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public CoapDatagramChannel Coap => _channel;
    public IPEndPoint LocalEndPoint => _dtls.LocalEndPoint;

    public static HelloPayload HelloFor(DeviceId id, ushort platformId = 32, ushort productId = 32, ushort productVersion = 3, ushort systemVersion = 6200) =>
        new(productId, productVersion, HelloFlags.GoodbyeSupport | HelloFlags.DeviceInitiatedDescribe | HelloFlags.DiagnosticsSupport,
            platformId, id, systemVersion, 1152, 10485760, 512);

    /// <summary>Full handshake; the Hello is sent by the caller (see <see cref="HelloAsync"/>).</summary>
    public static async Task<TestGen3Device> HandshakeAsync(IPEndPoint server, ECDsa deviceKey, ECDsa serverKey, TimeSpan? timeLimit = null,
        DtlsClientOptions? options = null)
    {
        var dtls = new DtlsClient(deviceKey, serverKey, server, options);
        using var timeout = new CancellationTokenSource(timeLimit ?? TimeSpan.FromSeconds(20));
        await dtls.ConnectAsync(timeout.Token);
        return new TestGen3Device(dtls, (ushort)RandomNumberGenerator.GetInt32(ushort.MaxValue));
    }

    /// <summary>Restores a saved session from a new local port, as Device OS does after a reset: no handshake.</summary>
    public static TestGen3Device Resume(DtlsSavedSession saved, ushort nextMessageId, IPEndPoint server, ECDsa deviceKey, ECDsa serverKey) =>
        new(DtlsClient.Resume(saved, deviceKey, serverKey, server), nextMessageId);

    public DtlsSavedSession SaveSession() => _dtls.SaveSession();

    public ushort PeekNextMessageId() => (ushort)(_channel.NextMessageId() + 1);

    /// <summary>Sends the CON Hello and returns the cloud's answer (an ACK, or an RST when refused).</summary>
    public Task<CoapMessage> HelloAsync(HelloPayload hello) =>
        _channel.SendConfirmableAsync(ParticleMessages.DeviceHello(CoapMessageType.Confirmable, _channel.NextMessageId(), hello));

    public async Task DescribeAsync()
    {
        var json = "{\"f\":[" + string.Join(',', Functions.Keys.Select(k => $"\"{k}\"")) + "],\"v\":{"
            + string.Join(',', Variables.Keys.Select(k => $"\"{k}\":" + (k.StartsWith("i", StringComparison.Ordinal) ? 2 : 4))) + "}}";
        await _channel.SendConfirmableAsync(ParticleMessages.Describe(_channel.NextMessageId(), DescribeFlags.Application, Encoding.UTF8.GetBytes(json)));
    }

    /// <summary>Publishes as Device OS does on UDP: CON, and the cloud's ACK is the answer.</summary>
    public Task<CoapMessage> PublishAsync(string name, string data) =>
        _channel.SendConfirmableAsync(ParticleMessages.Event(CoapMessageType.Confirmable, _channel.NextMessageId(), name, Encoding.UTF8.GetBytes(data)));

    public Task<CoapMessage> PingAsync() => _channel.SendConfirmableAsync(ParticleMessages.Ping(_channel.NextMessageId()));

    private async Task PumpAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                _channel.Deliver(await _dtls.ReceiveAsync(_stop.Token));
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ChannelClosedException or ObjectDisposedException)
        {
        }
    }

    private async Task ReadLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var result = await _channel.ReceiveAsync(_stop.Token);
                if (result.Message is not { } m)
                {
                    if (result.Error == CoapChannelError.MalformedCoap)
                    {
                        continue;
                    }
                    break;
                }
                await Received.Writer.WriteAsync(m);
                switch (ParticleMessageClassifier.Classify(m))
                {
                    case ParticleMessageKind.Ping:
                        await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        break;
                    case ParticleMessageKind.FunctionCall when FunctionCallRequest.TryParse(m, out var call):
                        if (Functions.TryGetValue(call.Name, out var fn))
                        {
                            var value = fn(call.Argument);
                            await _channel.SendAsync(ParticleMessages.Acknowledge(m, CoapCode.Changed,
                                new[] { (byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value }));
                        }
                        else
                        {
                            await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        }
                        break;
                    case ParticleMessageKind.VariableRequest when VariableRequest.TryParse(m, out var read):
                        await _channel.SendAsync(Variables.TryGetValue(read.Name, out var v)
                            ? ParticleMessages.Acknowledge(m, CoapCode.Content, v())
                            : ParticleMessages.Acknowledge(m, CoapCode.NotFound));
                        break;
                    case ParticleMessageKind.KeyChange:
                        await _channel.SendAsync(ParticleMessages.Acknowledge(m, CoapCode.Changed));
                        KeyChange.TrySetResult(m);
                        break;
                    default:
                        if (m.Type == CoapMessageType.Confirmable)
                        {
                            await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        }
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _channel.Close();
        await _dtls.DisposeAsync();
        await Task.WhenAll(_pump, _loop).WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        _stop.Dispose();
    }
}
