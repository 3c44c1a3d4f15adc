using Bulwark.DeviceSim.Devices;
using Bulwark.Firmware;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

public sealed class FirmwareUpdateTests
{
    private const int ChunkSize = 512;

    private static readonly VirtualDeviceOptions Options = TestSupport.Quiet with
    {
        SendStartupSequence = false,
        PlatformId = 6,
        ProductId = 4321,
        ProductFirmwareVersion = 7,
    };

    [Fact]
    public async Task FastOta_ReportsTheMissedChunk_ThenAppliesAndReconnectsWithTheNewProductVersion()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, Options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        byte[] module = BuildUserPart(platformId: 6, productVersion: 8);
        byte[][] chunks = module.Chunk(ChunkSize).ToArray();
        Assert.Equal(4, chunks.Length);

        await BeginAsync(connection, module.Length, fast: true, timeout);
        foreach (int index in new[] { 0, 2, 3 })
        {
            await connection.SendAsync(ParticleMessages.Chunk(connection.NextMessageId(), 0x32, chunks[index], (ushort)index));
        }

        CoapMessage firstDone = ParticleMessages.UpdateDone(connection.NextMessageId(), 0x33);
        await connection.SendAsync(firstDone);
        CoapMessage notYet = await connection.ReceiveAsync(timeout);
        CoapMessage missed = await connection.ReceiveAsync(timeout);

        Assert.Equal((CoapMessageType.Acknowledgement, CoapCode.BadRequest, firstDone.MessageId), (notYet.Type, notYet.Code, notYet.MessageId));
        Assert.Equal(ParticleMessageKind.ChunkMissed, ParticleMessageClassifier.Classify(missed));
        Assert.Equal(CoapMessageType.NonConfirmable, missed.Type);
        Assert.True(ParticleMessages.TryReadChunkMissed(missed, out ushort[] indices));
        Assert.Equal([(ushort)1], indices);

        Task<TestConnection> rebooted = cloud.AcceptAsync(timeout);
        await connection.SendAsync(ParticleMessages.Chunk(connection.NextMessageId(), 0x34, chunks[1], 1));
        CoapMessage done = ParticleMessages.UpdateDone(connection.NextMessageId(), 0x35);
        await connection.SendAsync(done);
        CoapMessage result = await connection.ReceiveAsync(timeout);

        Assert.Equal((CoapMessageType.Acknowledgement, CoapCode.Changed, done.MessageId), (result.Type, result.Code, result.MessageId));
        Assert.Equal("""{"r":0}""", ParticleMessages.GetPayloadText(result));
        FirmwareUpdateApplied applied = await device.WaitForAsync<FirmwareUpdateApplied>(cancellationToken: timeout);
        Assert.Equal(new FirmwareUpdateApplied(ModuleFunction.UserPart, 7, 8, 6200), applied);
        await connection.Closed.WaitAsync(timeout);

        TestConnection next = await rebooted;
        CoapMessage hello = await next.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal((4321, 8), (parsed.ProductId, parsed.ProductFirmwareVersion));
        await device.WaitForAsync<DeviceConnected>(cancellationToken: timeout);
        Assert.Equal(8, device.ProductFirmwareVersion);
    }

    [Fact]
    public async Task NormalOta_AnswersEachChunkWithItsToken_AndABadCrcWith400()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, Options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        byte[] module = BuildUserPart(platformId: 6, productVersion: 9);
        byte[][] chunks = module.Chunk(ChunkSize).ToArray();

        await BeginAsync(connection, module.Length, fast: false, timeout);
        var corrupted = new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, connection.NextMessageId(), new byte[] { 0x40 },
            [CoapOption.FromString(CoapOptionNumber.UriPath, "c"), CoapOption.FromFixedUInt(CoapOptionNumber.UriQuery, Bulwark.Protocol.Messages.Crc32.Compute(chunks[0]) ^ 1, 4)],
            chunks[0]);
        await connection.SendAsync(corrupted);
        Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(await connection.ReceiveAsync(timeout)));
        CoapMessage refused = await connection.ReceiveAsync(timeout);
        Assert.Equal((CoapCode.BadRequest, (byte)0x40), (refused.Code, refused.Token.Span[0]));

        for (int i = 0; i < chunks.Length; i++)
        {
            byte token = (byte)(0x41 + i);
            await connection.SendAsync(ParticleMessages.Chunk(connection.NextMessageId(), token, chunks[i]));
            Assert.Equal(ParticleMessageKind.EmptyAck, ParticleMessageClassifier.Classify(await connection.ReceiveAsync(timeout)));
            CoapMessage received = await connection.ReceiveAsync(timeout);
            Assert.Equal((CoapCode.Changed, token), (received.Code, received.Token.Span[0]));
        }

        Assert.True(device.FirmwareUpdate.InProgress);
        await connection.SendAsync(ParticleMessages.UpdateDone(connection.NextMessageId(), 0x50));
        Assert.Equal("""{"r":0}""", ParticleMessages.GetPayloadText(await connection.ReceiveAsync(timeout)));
        Assert.Equal(9, (await device.WaitForAsync<FirmwareUpdateApplied>(cancellationToken: timeout)).ProductFirmwareVersion);
    }

    [Fact]
    public async Task UpdateDone_ForAnotherPlatform_IsRefusedAndTheDeviceStaysUp()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, Options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        byte[] module = BuildUserPart(platformId: 10, productVersion: 8);

        await BeginAsync(connection, module.Length, fast: true, timeout);
        ushort index = 0;
        foreach (byte[] chunk in module.Chunk(ChunkSize))
        {
            await connection.SendAsync(ParticleMessages.Chunk(connection.NextMessageId(), 0x32, chunk, index++));
        }

        await connection.SendAsync(ParticleMessages.UpdateDone(connection.NextMessageId(), 0x33));

        Assert.Equal("""{"r":-1260}""", ParticleMessages.GetPayloadText(await connection.ReceiveAsync(timeout)));
        Assert.Equal((int)OtaResult.InvalidPlatform, (await device.WaitForAsync<FirmwareUpdateRejected>(cancellationToken: timeout)).Result);
        Assert.True(device.IsConnected);
        Assert.Equal(7, device.ProductFirmwareVersion);
    }

    [Fact]
    public async Task UpdateDone_WithoutAnUpdate_AnswersMinus210()
    {
        CancellationToken timeout = TestSupport.Timeout();
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, Options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);

        await connection.SendAsync(ParticleMessages.UpdateDone(connection.NextMessageId(), 0x33));

        Assert.Equal("""{"r":-210}""", ParticleMessages.GetPayloadText(await connection.ReceiveAsync(timeout)));
    }

    private static async Task BeginAsync(TestConnection connection, int fileSize, bool fast, CancellationToken timeout)
    {
        var parameters = new UpdateBeginParameters(fast ? (byte)1 : (byte)0, ChunkSize, (uint)fileSize, 0, 0x080A0000);
        CoapMessage begin = ParticleMessages.UpdateBegin(connection.NextMessageId(), 0x31, parameters);
        await connection.SendAsync(begin);
        CoapMessage ack = await connection.ReceiveAsync(timeout);
        CoapMessage ready = await connection.ReceiveAsync(timeout);
        Assert.Equal((ParticleMessageKind.EmptyAck, begin.MessageId), (ParticleMessageClassifier.Classify(ack), ack.MessageId));
        Assert.Equal((CoapCode.Changed, (byte)0x31), (ready.Code, ready.Token.Span[0]));
        Assert.Equal([fast ? (byte)1 : (byte)0], ready.Payload.ToArray());
    }

    private static byte[] BuildUserPart(ushort platformId, ushort productVersion) => FirmwareModuleBuilder.Build(new FirmwareModuleSpec
    {
        PlatformId = platformId,
        Function = ModuleFunction.UserPart,
        Index = 1,
        Version = 7,
        ProductId = 4321,
        ProductVersion = productVersion,
        DataSize = 1500,
        Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6200),
    });
}
