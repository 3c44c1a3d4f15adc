using System.Buffers.Binary;
using System.Security.Cryptography;
using Bulwark.DeviceSim.Devices;
using Bulwark.Firmware;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

/// <summary>The Gen3 transport against the real DTLS server and CoAP datagram channel (device-protocol.md 1.4, 1.5, 2.1, 7).</summary>
public sealed class VirtualDeviceUdpTests
{
    [Fact]
    public async Task Connect_HandshakesThenSendsConHelloWithTheDeviceId_AndIsConnectedOnlyOnceTheCloudAcksIt()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { ProductId = 4321, ProductFirmwareVersion = 7, PlatformId = 12 });
        cloud.AnswerNewConnections = m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Hello ? null : TestDtlsCloud.DefaultAnswer(m);
        Task<TestConnection> accepted = cloud.AcceptAsync(timeout);

        Task connecting = device.ConnectAsync(timeout);
        TestConnection connection = await accepted;
        CoapMessage hello = await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        Assert.False(connecting.IsCompleted);
        Assert.Equal(VirtualDeviceState.Connecting, device.State);
        Assert.Equal(CoapMessageType.Confirmable, hello.Type);
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal(device.Id, parsed.DeviceId);
        Assert.Equal(new HelloPayload(4321, 7, (HelloFlags)0xB6, 12, device.Id, 6200, 1152, 10485760, 512), parsed);
        Assert.Equal(device.Id, connection.DeviceId);

        await connection.SendAsync(ParticleMessages.EmptyAck(hello.MessageId));
        await connecting;
        DeviceConnected connected = await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);

        Assert.Equal(VirtualDeviceState.Connected, device.State);
        Assert.False(connected.SessionResumed);
        var sequence = new List<string>();
        for (int i = 0; i < 7; i++)
        {
            sequence.Add(Describe(await connection.ReceiveAsync(m => m.Type != CoapMessageType.Acknowledgement, timeout)));
        }

        Assert.Equal(
            ["CON POST /d?01", "CON GET /t", "CON POST /E/particle/device/updates/enabled", "CON POST /E/particle/device/updates/forced",
             "CON POST /d?02", "CON GET /e/particle", "CON GET /e/spark"],
            sequence);
        TimeReceived time = await device.WaitForAsync<TimeReceived>(cancellationToken: timeout);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), time.Time);
    }

    [Fact]
    public async Task Connect_WithAnUnregisteredKey_FailsAsAHandshakeFailure()
    {
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { HandshakeTimeout = TimeSpan.FromSeconds(1) }, register: false);

        var error = await Assert.ThrowsAsync<VirtualDeviceException>(() => device.ConnectAsync(TestSupport.Timeout()));

        Assert.Equal(ConnectFailure.Handshake, error.Failure);
        Assert.Equal(VirtualDeviceState.Disconnected, device.State);
        Assert.Equal(0, cloud.Server.SessionCount);
    }

    [Fact]
    public async Task Publish_IsConfirmable_AndReturnsOnlyWhenTheCloudAcks_AndA4xxAckIsARefusal()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false });
        TestConnection connection = await cloud.ConnectAsync(device, timeout);
        connection.Answer = m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Event ? null : TestDtlsCloud.DefaultAnswer(m);

        Task publishing = device.PublishAsync("sensor/temp", "21.5", cancellationToken: timeout);
        CoapMessage evt = await connection.ReceiveAsync(ParticleMessageKind.Event, timeout);
        Assert.False(publishing.IsCompleted);
        await connection.SendAsync(ParticleMessages.EmptyAck(evt.MessageId));
        await publishing;

        Assert.Equal(CoapMessageType.Confirmable, evt.Type);
        Assert.Equal("21.5", ParticleMessages.GetPayloadText(evt));
        Assert.Equal(1, device.EventsPublished);

        connection.Answer = m => ParticleMessages.Acknowledge(m, CoapCode.BadRequest);
        var refused = await Assert.ThrowsAsync<CloudRefusedException>(() => device.PublishAsync("sensor/temp", "22", cancellationToken: timeout));
        Assert.Equal(CoapCode.BadRequest, refused.Code);
        Assert.Equal(1, device.EventsPublished);
        Assert.True(device.IsConnected);
    }

    [Fact]
    public async Task Subscribe_IsConfirmable_AndACloudEventSentConIsAcknowledgedAndDelivered()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false });
        TestConnection connection = await cloud.ConnectAsync(device, timeout);

        await device.SubscribeAsync("cmd/", timeout);
        CoapMessage subscribe = await connection.ReceiveAsync(ParticleMessageKind.Subscribe, timeout);
        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.Event(CoapMessageType.Confirmable, id, "cmd/go", "now"u8.ToArray()));
        CoapMessage ack = await connection.ReceiveAsync(m => m.Type == CoapMessageType.Acknowledgement && m.MessageId == id, timeout);
        CloudEventReceived received = await device.WaitForAsync<CloudEventReceived>(cancellationToken: timeout);

        Assert.Equal(CoapMessageType.Confirmable, subscribe.Type);
        Assert.True(ack.Code.IsEmpty);
        Assert.Equal(("cmd/go", "now"), (received.Name, received.DataText));
    }

    [Fact]
    public async Task FunctionCall_GetsAnEmptyAck_ThenAConfirmableSeparateResult()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false });
        device.RegisterFunction("led", arg => arg.Length);
        TestConnection connection = await cloud.ConnectAsync(device, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.FunctionCall(id, 0x31, "led", "hello"));
        CoapMessage ack = await connection.ReceiveAsync(m => m.Type == CoapMessageType.Acknowledgement && m.MessageId == id, timeout);
        CoapMessage result = await connection.ReceiveAsync(m => m.Code == CoapCode.Changed, timeout);

        Assert.True(ack.Code.IsEmpty);
        Assert.Equal(CoapMessageType.Confirmable, result.Type);
        Assert.Equal([0x31], result.Token.ToArray());
        Assert.True(ParticleMessages.TryReadFunctionReturn(result, out int value));
        Assert.Equal(5, value);
        Assert.Equal(new FunctionCalled("led", "hello", 5), await device.WaitForAsync<FunctionCalled>(cancellationToken: timeout));
    }

    [Fact]
    public async Task VariableRequest_GetsAnEmptyAck_ThenAConfirmableContent_AndUnknownIsNotFound()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false });
        device.RegisterVariable("count", () => 42);
        TestConnection connection = await cloud.ConnectAsync(device, timeout);

        ushort id = connection.NextMessageId();
        await connection.SendAsync(ParticleMessages.VariableRequest(id, 0x32, "count"));
        CoapMessage ack = await connection.ReceiveAsync(m => m.Type == CoapMessageType.Acknowledgement && m.MessageId == id, timeout);
        CoapMessage value = await connection.ReceiveAsync(m => m.Code == CoapCode.Content && m.Token.Span.SequenceEqual(new byte[] { 0x32 }), timeout);
        await connection.SendAsync(ParticleMessages.VariableRequest(connection.NextMessageId(), 0x33, "missing"));
        CoapMessage missing = await connection.ReceiveAsync(m => m.Code == CoapCode.NotFound, timeout);

        Assert.True(ack.Code.IsEmpty);
        Assert.Equal(CoapMessageType.Confirmable, value.Type);
        Assert.Equal(42, BinaryPrimitives.ReadInt32BigEndian(value.Payload.Span));
        Assert.Equal(CoapMessageType.Confirmable, missing.Type);
        Assert.Equal([0x33], missing.Token.ToArray());
    }

    [Fact]
    public async Task Reconnect_ResumesTheSavedSessionFromANewPort_WithOnlyAPing()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice();
        device.RegisterFunction("led", arg => arg.Length);
        TestConnection connection = await cloud.ConnectAsync(device, timeout);
        int firstPort = device.LocalEndPoint!.Port;
        await device.DisconnectAsync(timeout);
        CoapMessage goodbye = await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);
        Gen3SavedSession saved = device.SavedSession!;

        await device.ConnectAsync(timeout);
        CoapMessage ping = await connection.ReceiveAsync(ParticleMessageKind.Ping, timeout);
        DeviceConnected resumed = await device.WaitForAsync<DeviceConnected>(c => c.SessionResumed, timeout);

        Assert.Equal(CoapMessageType.Confirmable, goodbye.Type);
        Assert.True(resumed.HelloSkipped);
        Assert.Equal(saved.NextMessageId, ping.MessageId);
        Assert.Equal(connection.DtlsSession!.ConnectionId, saved.Dtls.ConnectionId);
        Assert.NotEqual(firstPort, device.LocalEndPoint!.Port);
        Assert.Equal(device.LocalEndPoint.Port, connection.DtlsSession.RemoteEndPoint.Port);
        Assert.Equal(1, cloud.Server.SessionCount);
        Assert.False(cloud.AcceptAsync(CancellationToken.None).IsCompleted);
        Assert.DoesNotContain(connection.Log, m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Hello && m.MessageId > goodbye.MessageId);

        // The resumed session carries on: a function call reaches the device and its result comes back.
        await connection.SendAsync(ParticleMessages.FunctionCall(connection.NextMessageId(), 0x41, "led", "abc"));
        CoapMessage result = await connection.ReceiveAsync(m => m.Code == CoapCode.Changed, timeout);
        Assert.True(ParticleMessages.TryReadFunctionReturn(result, out int value));
        Assert.Equal(3, value);
    }

    [Fact]
    public async Task Reconnect_AfterTheAppChanged_ResumesWithoutAHandshakeButSendsHelloAndDescribe()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice();
        TestConnection connection = await ConnectThenSayGoodbyeAsync(cloud, device, timeout);
        device.RegisterFunction("added", _ => 1);

        await device.ConnectAsync(timeout);
        CoapMessage hello = await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        CoapMessage describe = await connection.ReceiveAsync(m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Describe && m.Payload.Span[0] == (byte)'{', timeout);
        DeviceConnected resumed = await device.WaitForAsync<DeviceConnected>(c => c.SessionResumed, timeout);

        Assert.Equal(CoapMessageType.Confirmable, hello.Type);
        Assert.False(resumed.HelloSkipped);
        Assert.Contains("added", ParticleMessages.GetPayloadText(describe), StringComparison.Ordinal);
        Assert.Equal(1, cloud.Server.SessionCount);
    }

    [Fact]
    public async Task Reconnect_AfterAnOtaUpdateApplied_ResumesWithoutAHandshakeButSaysHelloWithTheNewVersion()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false, PlatformId = 12, ProductId = 4321, ProductFirmwareVersion = 7 });
        TestConnection connection = await cloud.ConnectAsync(device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        byte[] module = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 12, Function = ModuleFunction.UserPart, Index = 1, Version = 7, ProductId = 4321, ProductVersion = 8, DataSize = 700,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6200),
        });

        await connection.SendAsync(new UpdateStartRequest((uint)module.Length, 512, SHA256.HashData(module)).ToMessage(connection.NextMessageId(), new byte[] { 2 }));
        await connection.ReceiveAsync(m => UpdateStartResponse.TryParse(m, out _), timeout);
        uint index = 1;
        foreach (byte[] chunk in module.Chunk(512))
        {
            await connection.SendAsync(new UpdateChunkRequest(index++, chunk).ToMessage(connection.NextMessageId()));
        }

        await connection.SendAsync(new UpdateFinishRequest().ToMessage(connection.NextMessageId(), new byte[] { 3 }));
        FirmwareUpdateApplied applied = await device.WaitForAsync<FirmwareUpdateApplied>(cancellationToken: timeout);
        DeviceConnected again = await device.WaitForAsync<DeviceConnected>(c => c.SessionResumed, timeout);
        CoapMessage hello = await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        // Device OS saved its session's checksums of what it told the cloud (version 7), so the "reset" onto version 8
        // restores the session but says Hello.
        Assert.Equal(8, applied.ProductFirmwareVersion);
        Assert.False(again.HelloSkipped);
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal(8, parsed.ProductFirmwareVersion);
        Assert.Equal(1, cloud.Server.SessionCount);
        Assert.False(cloud.AcceptAsync(CancellationToken.None).IsCompleted);
    }

    [Fact]
    public async Task Reconnect_WhenTheServerForgotTheSession_GivesItUpAfterTheRetransmissions_AndHandshakesAgain()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice();
        TestConnection first = await ConnectThenSayGoodbyeAsync(cloud, device, timeout);
        cloud.Server.Remove(first.DtlsSession!);

        TestConnection second = await cloud.ConnectAsync(device, timeout);
        CoapMessage hello = await second.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);
        DeviceConnected connected = await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);

        Assert.False(connected.SessionResumed);
        Assert.Equal(device.Id, second.DeviceId);
        Assert.Equal(CoapMessageType.Confirmable, hello.Type);
        Assert.NotEqual(first.DtlsSession!.ConnectionId, second.DtlsSession!.ConnectionId);
        Assert.True(device.IsConnected);
    }

    [Fact]
    public async Task KeyChange_DiscardsTheSavedSession_AndTheDeviceReconnectsWithAFullHandshake()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice();
        TestConnection first = await cloud.ConnectAsync(device, timeout);
        await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);
        Task<TestConnection> next = cloud.AcceptAsync(timeout);

        ushort id = first.NextMessageId();
        await first.SendAsync(ParticleMessages.KeyChange(id, 1));
        CoapMessage ack = await first.ReceiveAsync(m => m.Type == CoapMessageType.Acknowledgement && m.MessageId == id, timeout);
        cloud.Server.Remove(first.DtlsSession!);
        DeviceDisconnected dropped = await device.WaitForAsync<DeviceDisconnected>(cancellationToken: timeout);
        TestConnection second = await next;
        CoapMessage hello = await second.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        DeviceConnected again = await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);

        Assert.True(ack.Code.IsEmpty);
        Assert.Equal(DisconnectReason.SessionDiscarded, dropped.Reason);
        Assert.False(again.SessionResumed);
        Assert.NotEqual(first.DtlsSession!.ConnectionId, second.DtlsSession!.ConnectionId);
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal(device.Id, parsed.DeviceId);
    }

    [Fact]
    public async Task ResumeSessionsOff_ForcesAFullHandshakeEveryTime()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { ResumeSessions = false });
        TestConnection first = await ConnectThenSayGoodbyeAsync(cloud, device, timeout);

        TestConnection second = await cloud.ConnectAsync(device, timeout);

        Assert.Null(device.SavedSession);
        Assert.NotEqual(first.DtlsSession!.ConnectionId, second.DtlsSession!.ConnectionId);
        Assert.Equal(ParticleMessageKind.Hello, ParticleMessageClassifier.Classify(await second.ReceiveAsync(timeout)));
    }

    [Fact]
    public async Task KeepalivePing_IsAnEmptyCon_AnsweredByAnEmptyAck()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        await using VirtualDevice device = cloud.CreateDevice(TestDtlsCloud.Quiet with { SendStartupSequence = false });
        TestConnection connection = await cloud.ConnectAsync(device, timeout);

        Task pinging = device.PingAsync(timeout);
        CoapMessage ping = await connection.ReceiveAsync(ParticleMessageKind.Ping, timeout);
        await pinging;

        Assert.Equal(CoapMessageType.Confirmable, ping.Type);
        Assert.True(ping.Code.IsEmpty);
        Assert.True(ping.Token.IsEmpty);
    }

    /// <summary>A first connection that ends with the device's Goodbye, as a rebooting or sleeping device leaves it.</summary>
    private static async Task<TestConnection> ConnectThenSayGoodbyeAsync(TestDtlsCloud cloud, VirtualDevice device, CancellationToken timeout)
    {
        TestConnection connection = await cloud.ConnectAsync(device, timeout);
        await device.DisconnectAsync(timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);
        return connection;
    }

    private static string Describe(CoapMessage message) => TestSupport.Describe(message);
}
