using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using Bulwark.DeviceSim.Devices;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

public sealed class VirtualDeviceTests
{
    [Fact]
    public async Task Connect_SendsHelloWithConfiguredFieldsAsNonFromTheSaltSeededId()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        var options = TestSupport.Quiet with { ProductId = 4321, ProductFirmwareVersion = 7, PlatformId = 6, SystemVersion = 6200 };
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, options);

        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        CoapMessage hello = await connection.ReceiveAsync(timeout);

        Assert.Equal(device.Id, connection.DeviceId);
        Assert.Equal(VirtualDeviceState.Connected, device.State);
        Assert.Equal(ParticleMessageKind.Hello, ParticleMessageClassifier.Classify(hello));
        Assert.Equal(CoapMessageType.NonConfirmable, hello.Type);
        Assert.Equal((ushort)(connection.Handshake.SessionKeys!.InitialMessageId + 1), hello.MessageId);
        Assert.Equal(
            "10E10007003600060000" + "1838" + "0480" + "00A00000" + "0200",
            Convert.ToHexString(hello.Payload.Span));
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal(new HelloPayload(4321, 7, (HelloFlags)0x36, 6, null, 6200, 1152, 10485760, 512), parsed);
    }

    [Fact]
    public async Task Connect_FollowsHelloWithTheDeviceOsStartupSequence()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud);
        device.RegisterFunction("led", arg => arg.Length);
        device.RegisterVariable("temp", () => 21.5);
        await device.SubscribeAsync("cmd/", timeout);

        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        var sequence = new List<CoapMessage>();
        for (int i = 0; i < 9; i++)
        {
            sequence.Add(await connection.ReceiveAsync(timeout));
        }

        Assert.Equal(
            ["NON POST /h", "CON POST /d?01", "CON GET /t", "NON POST /E/particle/device/updates/enabled", "NON POST /E/particle/device/updates/forced",
             "CON POST /d?02", "NON GET /e/particle", "NON GET /e/spark", "NON GET /e/cmd/"],
            sequence.Select(Describe));
        CoapMessage systemDescribe = sequence[1];
        Assert.True(systemDescribe.TryGetOption(CoapOptionNumber.ContentFormat, out CoapOption format));
        Assert.True(format.TryGetUInt(out uint formatValue));
        Assert.Equal(42u, formatValue);
        Assert.Equal(1, sequence[2].Token.Length);
        Assert.Equal("true", Encoding.UTF8.GetString(sequence[3].Payload.Span));
        Assert.Equal("""{"f":["led"],"v":{"temp":9}}""", Encoding.UTF8.GetString(sequence[5].Payload.Span));
    }

    [Fact]
    public async Task DescribeRequest_System_AnswersEmptyAckThenConContentWithProtobuf()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SystemVersion = 6200, SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.DescribeRequest(id, 0x21, DescribeFlags.System));
        CoapMessage ack = await connection.ReceiveAsync(timeout);
        CoapMessage reply = await connection.ReceiveAsync(timeout);

        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(ack));
        Assert.Equal(id, ack.MessageId);
        Assert.Equal(CoapMessageType.Confirmable, reply.Type);
        Assert.Equal(CoapCode.Content, reply.Code);
        Assert.Equal([0x21], reply.Token.ToArray());
        IReadOnlyList<ProtobufField> describe = ProtobufReader.Read(reply.Payload.Span);
        var modules = describe.Where(f => f.Number == 1).Select(f => ProtobufReader.Read(f.Bytes)).ToList();
        IReadOnlyList<ProtobufField> systemPart = Assert.Single(modules, m => m.Single(f => f.Number == 1).Value == 4);
        Assert.Equal(6200ul, systemPart.Single(f => f.Number == 3).Value);
        Assert.Equal(1ul, systemPart.Single(f => f.Number == 2).Value);
        Assert.Equal(5, systemPart.Single(f => f.Number == 6).WireType);
        IReadOnlyList<ProtobufField> userPart = Assert.Single(modules, m => m.Single(f => f.Number == 1).Value == 5);
        IReadOnlyList<ProtobufField> dependency = ProtobufReader.Read(userPart.Single(f => f.Number == 9).Bytes);
        Assert.Equal([4ul, 1ul, 6200ul], dependency.Select(f => f.Value));
        Assert.Equal(32, userPart.Single(f => f.Number == 8).Bytes.Length);
        IReadOnlyList<ProtobufField> bootloader = Assert.Single(modules, m => m.Single(f => f.Number == 1).Value == 2);
        Assert.Equal(3000ul, bootloader.Single(f => f.Number == 3).Value);
        Assert.DoesNotContain(bootloader, f => f.Number == 12);
        Assert.Equal([2ul, 3000ul], ProtobufReader.Read(systemPart.Single(f => f.Number == 9).Bytes).Select(f => f.Value));
        Assert.DoesNotContain(describe, f => f.Number == 6);
        Assert.IsType<DescribeRequested>(await device.WaitForAsync<DescribeRequested>(cancellationToken: timeout));
    }

    [Fact]
    public async Task SystemDescribe_ReportsVersionsFromOptionsAndDeviceProtection()
    {
        await using TestCloud cloud = TestCloud.Start();
        var options = TestSupport.Quiet with { BootloaderVersion = 2301, SystemVersion = 6100, UserModuleVersion = 9, Protected = true };
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, options, register: false);

        Assert.True(SystemDescribe.TryParse(device.GetSystemDescribe(), out SystemDescribe? describe, out SystemDescribeParseError error), error.ToString());
        Assert.Equal(
            [(DescribeModuleType.Bootloader, 0u, 2301u), (DescribeModuleType.SystemPart, 1u, 6100u), (DescribeModuleType.UserPart, 1u, 9u)],
            describe.Modules.Select(m => (m.Type, m.Index, m.Version)));
        Assert.True(describe.ProtectedState);
        Assert.True(describe.Modules[0].IsProtected);
        Assert.All(describe.Modules, m => Assert.True(m.IsValid));
        Assert.Equal(new DescribeModuleDependency(DescribeModuleType.SystemPart, 1, 6100), Assert.Single(describe.Modules[2].Dependencies));
    }

    [Fact]
    public async Task DescribeRequest_Application_AnswersJsonWithFunctionsAndTypedVariables()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        device.RegisterFunction("led", _ => 1);
        device.RegisterFunction("reset", _ => 0);
        device.RegisterVariable("count", () => 3);
        device.RegisterVariable("ratio", () => 0.5);
        device.RegisterVariable("name", () => "sim");
        device.RegisterVariable("on", () => true);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await connection.SendAsync(ParticleMessages.DescribeRequest(connection.NextMessageId(), 0x22, DescribeFlags.Application));
        CoapMessage reply = await connection.ReceiveAsync(m => m.Code == CoapCode.Content, timeout);

        using JsonDocument json = JsonDocument.Parse(reply.Payload);
        Assert.Equal(["led", "reset"], json.RootElement.GetProperty("f").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal(
            [("count", 2), ("ratio", 9), ("name", 4), ("on", 1)],
            json.RootElement.GetProperty("v").EnumerateObject().Select(p => (p.Name, p.Value.GetInt32())));
    }

    [Fact]
    public async Task DescribeRequest_WithTwoTypesAtOnce_AcksThenDropsTheConnectionLikeDeviceOs()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        await connection.SendAsync(ParticleMessages.DescribeRequest(connection.NextMessageId(), 0x23, (DescribeFlags)3));

        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(await connection.ReceiveAsync(timeout)));
        DeviceDisconnected disconnected = await device.WaitForAsync<DeviceDisconnected>(cancellationToken: timeout);
        Assert.Equal(DisconnectReason.DeviceOsError, disconnected.Reason);
        await connection.Closed.WaitAsync(timeout);
    }

    [Fact]
    public async Task FunctionCall_AcksThenSendsSeparateNonResultWithTheCallToken()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        device.RegisterFunction("echo", arg => arg.Length);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.FunctionCall(id, 0x51, "echo", "hello"));
        CoapMessage ack = await connection.ReceiveAsync(timeout);
        CoapMessage result = await connection.ReceiveAsync(timeout);

        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(ack));
        Assert.Equal(id, ack.MessageId);
        Assert.Equal(CoapMessageType.NonConfirmable, result.Type);
        Assert.Equal(CoapCode.Changed, result.Code);
        Assert.Equal([0x51], result.Token.ToArray());
        Assert.Equal("00000005", Convert.ToHexString(result.Payload.Span));
        FunctionCalled called = await device.WaitForAsync<FunctionCalled>(cancellationToken: timeout);
        Assert.Equal(new FunctionCalled("echo", "hello", 5), called);
    }

    [Fact]
    public async Task FunctionCall_Unknown_GetsOnlyTheEmptyAck()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        device.RegisterVariable("n", () => 1);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        await connection.SendAsync(ParticleMessages.FunctionCall(connection.NextMessageId(), 0x52, "missing", ""));
        // A variable read right behind it: its reply must be the next response, so no function result came in between.
        await connection.SendAsync(ParticleMessages.VariableRequest(connection.NextMessageId(), 0x53, "n"));

        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(await connection.ReceiveAsync(timeout)));
        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(await connection.ReceiveAsync(timeout)));
        CoapMessage next = await connection.ReceiveAsync(timeout);
        Assert.Equal([0x53], next.Token.ToArray());
    }

    [Fact]
    public async Task FunctionCall_WithTwoByteToken_DropsTheConnection()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        device.RegisterFunction("f", _ => 1);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await connection.SendAsync(new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, connection.NextMessageId(), new byte[] { 1, 2 },
            [CoapOption.FromString(CoapOptionNumber.UriPath, "f"), CoapOption.FromString(CoapOptionNumber.UriPath, "f"), CoapOption.FromString(CoapOptionNumber.UriQuery, "")]));

        Assert.Equal(DisconnectReason.DeviceOsError, (await device.WaitForAsync<DeviceDisconnected>(cancellationToken: timeout)).Reason);
    }

    [Theory]
    [InlineData("count", "0000002A")]
    [InlineData("ratio", "000000000000F83F")]
    [InlineData("name", "73696D")]
    [InlineData("on", "01")]
    public async Task VariableRead_AcksThenSendsTheValueInDeviceByteOrder(string name, string expectedHex)
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        device.RegisterVariable("count", () => 42);
        device.RegisterVariable("ratio", () => 1.5);
        device.RegisterVariable("name", () => "sim");
        device.RegisterVariable("on", () => true);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.VariableRequest(id, 0x61, name));
        CoapMessage ack = await connection.ReceiveAsync(timeout);
        CoapMessage value = await connection.ReceiveAsync(timeout);

        Assert.Equal(id, ack.MessageId);
        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(ack));
        Assert.Equal(CoapCode.Content, value.Code);
        Assert.Equal(CoapMessageType.NonConfirmable, value.Type);
        Assert.Equal([0x61], value.Token.ToArray());
        Assert.Equal(expectedHex, Convert.ToHexString(value.Payload.Span));
    }

    [Fact]
    public async Task VariableRead_Unknown_AnswersNon404()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await connection.SendAsync(ParticleMessages.VariableRequest(connection.NextMessageId(), 0x62, "nope"));
        CoapMessage reply = await connection.ReceiveAsync(m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Response, timeout);

        Assert.Equal(CoapCode.NotFound, reply.Code);
        Assert.Equal(CoapMessageType.NonConfirmable, reply.Type);
        Assert.Equal(new VariableRead("nope", false), await device.WaitForAsync<VariableRead>(cancellationToken: timeout));
    }

    [Fact]
    public async Task Publish_SendsNonPostWithTtlOnlyWhenNotDefault()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await device.PublishAsync("temp", "21.5", ttlSeconds: 30, cancellationToken: timeout);
        await device.PublishAsync("status", "ok", cancellationToken: timeout);
        await device.PublishAsync("legacy", null, isPrivate: false, cancellationToken: timeout);

        CoapMessage first = await connection.ReceiveAsync(ParticleMessageKind.Event, timeout);
        Assert.Equal(CoapMessageType.NonConfirmable, first.Type);
        Assert.Equal("/E/temp", first.GetUriPath());
        Assert.True(EventMessage.TryParse(first, out EventMessage? temp));
        Assert.Equal(("temp", "21.5", 30, false), (temp.Name, temp.GetDataString(), temp.TtlSeconds, temp.IsLegacyPublic));
        CoapMessage second = await connection.ReceiveAsync(ParticleMessageKind.Event, timeout);
        Assert.False(second.TryGetOption(CoapOptionNumber.MaxAge, out _));
        CoapMessage third = await connection.ReceiveAsync(ParticleMessageKind.Event, timeout);
        Assert.Equal("/e/legacy", third.GetUriPath());
        Assert.True(third.Payload.IsEmpty);
        Assert.Equal(3, device.EventsPublished);
    }

    [Fact]
    public async Task Publish_RefusesDataOverTheDeviceLimit()
    {
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, register: false);

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => device.PublishAsync("big", new string('x', 1025)));
        await Assert.ThrowsAsync<InvalidOperationException>(() => device.PublishAsync("small", "x"));
    }

    [Fact]
    public async Task Subscribe_SendsNonGetAndDeliversMatchingCloudEventsOnly()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await device.SubscribeAsync("cmd/", timeout);
        CoapMessage subscribe = await connection.ReceiveAsync(ParticleMessageKind.Subscribe, timeout);
        Assert.Equal(CoapMessageType.NonConfirmable, subscribe.Type);
        Assert.Equal("/e/cmd/", subscribe.GetUriPath());

        await connection.SendAsync(ParticleMessages.Event(CoapMessageType.NonConfirmable, connection.NextMessageId(), "other/x", "no"u8.ToArray()));
        await connection.SendAsync(ParticleMessages.Event(CoapMessageType.NonConfirmable, connection.NextMessageId(), "cmd/go", "now"u8.ToArray()));

        CloudEventReceived received = await device.WaitForAsync<CloudEventReceived>(cancellationToken: timeout);
        Assert.Equal(("cmd/go", "now"), (received.Name, received.DataText));
    }

    [Fact]
    public async Task Signal_AcksWithChangedAndReportsTheState()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        CoapMessage signal = ParticleMessages.Signal(connection.NextMessageId(), 0x71, start: true);
        await connection.SendAsync(signal);
        CoapMessage ack = await connection.ReceiveAsync(m => m.Type == CoapMessageType.Acknowledgement, timeout);

        Assert.Equal((signal.MessageId, CoapCode.Changed), (ack.MessageId, ack.Code));
        Assert.Equal(new SignalChanged(true), await device.WaitForAsync<SignalChanged>(cancellationToken: timeout));
    }

    [Fact]
    public async Task RequestTime_ReturnsTheCloudsUnixSeconds()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        Task<DateTimeOffset> time = device.RequestTimeAsync(timeout);
        CoapMessage request = await connection.ReceiveAsync(ParticleMessageKind.TimeRequest, timeout);
        await connection.SendAsync(ParticleMessages.TimeResponse(request, 1_750_000_000));

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_750_000_000), await time);
    }

    [Fact]
    public async Task Ping_FromTheCloud_IsAnsweredWithAnEmptyAck()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.Ping(id));
        CoapMessage ack = await connection.ReceiveAsync(ParticleMessageKind.EmptyAck, timeout);

        Assert.Equal(id, ack.MessageId);
        Assert.Equal(4, ack.ToArray().Length);
    }

    [Fact]
    public async Task Keepalive_PingsWhenIdleAndStaysUpWhileTheCloudAcks()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        var options = TestSupport.Quiet with { SendStartupSequence = false, PingInterval = TimeSpan.FromMilliseconds(200), PingTimeout = TimeSpan.FromSeconds(5) };
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        for (int i = 0; i < 2; i++)
        {
            CoapMessage ping = await connection.ReceiveAsync(ParticleMessageKind.Ping, timeout);
            Assert.Equal("40", Convert.ToHexString(ping.ToArray(), 0, 1));
            await connection.SendAsync(ParticleMessages.EmptyAck(ping.MessageId));
        }

        Assert.True(device.IsConnected);
    }

    [Fact]
    public async Task Keepalive_DropsTheConnectionWhenPingsGoUnanswered()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        var options = TestSupport.Quiet with { SendStartupSequence = false, PingInterval = TimeSpan.FromMilliseconds(100), PingTimeout = TimeSpan.FromMilliseconds(200) };
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await connection.ReceiveAsync(ParticleMessageKind.Ping, timeout);

        Assert.Equal(DisconnectReason.KeepaliveTimeout, (await device.WaitForAsync<DeviceDisconnected>(cancellationToken: timeout)).Reason);
        await connection.Closed.WaitAsync(timeout);
        Assert.Equal(VirtualDeviceState.Disconnected, device.State);
    }

    [Fact]
    public async Task Disconnect_SendsGoodbyeWithNoResponseThenCloses()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { SendStartupSequence = false });
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);

        await device.DisconnectAsync(timeout);
        CoapMessage goodbye = await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);

        Assert.Equal(CoapMessageType.NonConfirmable, goodbye.Type);
        Assert.True(goodbye.TryGetOption(CoapOptionNumber.NoResponse, out _));
        Assert.True(GoodbyeMessage.TryParse(goodbye.Payload.Span, out GoodbyeMessage? parsed));
        Assert.Equal(2u, parsed.CloudDisconnectReason);
        await connection.Closed.WaitAsync(timeout);
        Assert.Equal(VirtualDeviceState.Disconnected, device.State);
        Assert.Equal(DisconnectReason.Requested, (await device.WaitForAsync<DeviceDisconnected>(cancellationToken: timeout)).Reason);
    }

    [Fact]
    public async Task Connect_ToUnknownDevice_FailsTheHandshake()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, register: false);

        var error = await Assert.ThrowsAsync<VirtualDeviceException>(() => device.ConnectAsync(timeout));

        Assert.Equal(ConnectFailure.Handshake, error.Failure);
        Assert.Equal(Gen2HandshakeRefusal.UnknownDevice, (await cloud.NextRefusalAsync(timeout)).Refusal);
        Assert.Equal(VirtualDeviceState.Disconnected, device.State);
    }

    [Fact]
    public async Task Connect_WithTheWrongServerKey_IsRefused()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        using ServerPrivateKey other = ServerPrivateKey.Generate();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, serverKey: ServerPublicKey.FromSpki(other.PublicKeySpki));

        var error = await Assert.ThrowsAsync<VirtualDeviceException>(() => device.ConnectAsync(timeout));

        Assert.Equal(ConnectFailure.Handshake, error.Failure);
        Assert.Equal(Gen2HandshakeRefusal.Garbage, (await cloud.NextRefusalAsync(timeout)).Refusal);
    }

    [Fact]
    public async Task Connect_WithoutServerHello_FailsWithinTheHelloTimeout()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start(sendHello: false);
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, TestSupport.Quiet with { ServerHelloTimeout = TimeSpan.FromMilliseconds(300) });

        var error = await Assert.ThrowsAsync<VirtualDeviceException>(() => device.ConnectAsync(timeout));

        Assert.Equal(ConnectFailure.NoServerHello, error.Failure);
        Assert.Equal(VirtualDeviceState.Disconnected, device.State);
        TestConnection connection = await cloud.AcceptAsync(timeout);
        await connection.Closed.WaitAsync(timeout);
    }

    [Fact]
    public async Task Connect_ToAClosedPort_ReportsUnreachable()
    {
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        await using var device = new VirtualDevice(DeviceIdentity.Generate(), TestCloud.DeviceViewOfServerKey, "127.0.0.1", port, TestSupport.Quiet);

        var error = await Assert.ThrowsAsync<VirtualDeviceException>(() => device.ConnectAsync(TestSupport.Timeout()));

        Assert.Equal(ConnectFailure.Unreachable, error.Failure);
    }

    private static string Describe(CoapMessage message) => TestSupport.Describe(message);
}
