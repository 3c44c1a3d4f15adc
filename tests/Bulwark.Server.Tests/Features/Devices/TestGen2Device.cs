using System.Net.Sockets;
using System.Text;
using System.Threading.Channels;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.Server.Tests.Features.Devices;

/// <summary>A minimal Gen2 device built straight on the protocol library: enough to drive the gateway from tests.</summary>
internal sealed class TestGen2Device : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly Gen2Channel _channel;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private TestGen2Device(TcpClient tcp, Gen2Channel channel)
    {
        _tcp = tcp;
        _channel = channel;
        _loop = Task.Run(ReadLoopAsync);
    }

    public Dictionary<string, Func<string, int>> Functions { get; } = [];
    public Dictionary<string, Func<byte[]>> Variables { get; } = [];
    public Channel<CoapMessage> Received { get; } = Channel.CreateUnbounded<CoapMessage>();
    public TaskCompletionSource ServerHello { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    public TaskCompletionSource Closed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    /// <summary>False makes the device ignore the server's pings, like a dead one.</summary>
    public bool AnswerPings { get; set; } = true;

    public static async Task<TestGen2Device> ConnectAsync(int port, DeviceId id, DevicePrivateKey key, ServerPublicKey serverKey,
        ushort platformId = 6, ushort productId = 6, ushort productVersion = 3, ushort systemVersion = 6200)
    {
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var stream = tcp.GetStream();
        var handshake = await new Gen2DeviceHandshake(key, id, serverKey, TimeSpan.FromSeconds(10)).RunAsync(stream);
        if (!handshake.Succeeded)
        {
            tcp.Dispose();
            throw new InvalidOperationException("Handshake failed: " + handshake.Error);
        }
        var channel = new Gen2Channel(stream, handshake.SessionKeys!);
        var hello = new HelloPayload(productId, productVersion, HelloFlags.GoodbyeSupport | HelloFlags.DeviceInitiatedDescribe | HelloFlags.DiagnosticsSupport,
            platformId, null, systemVersion, 1152, 10485760, 512);
        await channel.SendAsync(ParticleMessages.DeviceHello(CoapMessageType.NonConfirmable, channel.NextMessageId(), hello));
        return new TestGen2Device(tcp, channel);
    }

    public async Task DescribeAsync()
    {
        var json = "{\"f\":[" + string.Join(',', Functions.Keys.Select(k => $"\"{k}\"")) + "],\"v\":{"
            + string.Join(',', Variables.Keys.Select(k => $"\"{k}\":" + (k.StartsWith("i", StringComparison.Ordinal) ? 2 : k.StartsWith("d", StringComparison.Ordinal) ? 9 : 4))) + "}}";
        await _channel.SendAsync(ParticleMessages.Describe(_channel.NextMessageId(), DescribeFlags.Application, Encoding.UTF8.GetBytes(json)));
    }

    public ValueTask PublishAsync(string name, string data) =>
        _channel.SendAsync(ParticleMessages.Event(CoapMessageType.NonConfirmable, _channel.NextMessageId(), name, Encoding.UTF8.GetBytes(data)));

    public ValueTask SubscribeAsync(string prefix) =>
        _channel.SendAsync(ParticleMessages.Subscribe(CoapMessageType.NonConfirmable, _channel.NextMessageId(), prefix));

    public ValueTask SendAsync(CoapMessage message) => _channel.SendAsync(message);

    /// <summary>Writes raw bytes under the channel (to corrupt the framing).</summary>
    public async Task WriteRawAsync(byte[] bytes)
    {
        await _tcp.GetStream().WriteAsync(bytes);
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
                    break;
                }
                await Received.Writer.WriteAsync(m);
                switch (ParticleMessageClassifier.Classify(m))
                {
                    case ParticleMessageKind.Hello:
                        ServerHello.TrySetResult();
                        break;
                    case ParticleMessageKind.Ping when AnswerPings:
                        await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        break;
                    case ParticleMessageKind.FunctionCall when FunctionCallRequest.TryParse(m, out var call):
                        await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        if (Functions.TryGetValue(call.Name, out var fn))
                        {
                            await _channel.SendAsync(ParticleMessages.FunctionReturn(CoapMessageType.NonConfirmable, _channel.NextMessageId(), m.Token, fn(call.Argument)));
                        }
                        break;
                    case ParticleMessageKind.VariableRequest when VariableRequest.TryParse(m, out var read):
                        await _channel.SendAsync(ParticleMessages.EmptyAck(m.MessageId));
                        await _channel.SendAsync(Variables.TryGetValue(read.Name, out var v)
                            ? ParticleMessages.SeparateResponse(CoapMessageType.NonConfirmable, _channel.NextMessageId(), m.Token, CoapCode.Content, v())
                            : ParticleMessages.SeparateResponse(CoapMessageType.NonConfirmable, _channel.NextMessageId(), m.Token, CoapCode.NotFound));
                        break;
                    case ParticleMessageKind.Signal:
                        await _channel.SendAsync(ParticleMessages.Acknowledge(m, CoapCode.Changed));
                        break;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or InvalidOperationException)
        {
        }
        finally
        {
            Closed.TrySetResult();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _tcp.Dispose();
        try
        {
            await _loop;
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
        await _channel.DisposeAsync();
        _stop.Dispose();
    }
}
