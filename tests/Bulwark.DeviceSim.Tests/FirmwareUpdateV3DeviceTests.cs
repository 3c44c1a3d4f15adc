using System.Security.Cryptography;
using Bulwark.DeviceSim.Devices;
using Bulwark.Firmware;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

/// <summary>A virtual device with <see cref="VirtualDeviceOptions.OtaProtocolV3"/> against a scripted cloud.</summary>
public sealed class FirmwareUpdateV3DeviceTests
{
    private static readonly VirtualDeviceOptions Options = TestSupport.Quiet with
    {
        SendStartupSequence = false,
        PlatformId = 6,
        ProductId = 4321,
        ProductFirmwareVersion = 7,
        OtaProtocolV3 = true,
    };

    [Fact]
    public async Task A_v3_device_takes_the_windowed_transfer_and_applies_the_module_once_the_finish_answer_is_acked()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        await using VirtualDevice device = TestSupport.CreateDevice(cloud, Options);
        TestConnection connection = await TestSupport.ConnectAsync(cloud, device, timeout);
        Assert.True(HelloPayload.TryParse((await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout)).Payload.Span, out HelloPayload? hello, out _));
        Assert.True(hello.Flags.HasFlag(HelloFlags.OtaProtocolV3));
        byte[] module = FirmwareModuleBuilder.Build(new FirmwareModuleSpec
        {
            PlatformId = 6, Function = ModuleFunction.UserPart, Index = 1, Version = 7, ProductId = 4321, ProductVersion = 8, DataSize = 1500,
            Dependency1 = new ModuleDependency(ModuleFunction.SystemPart, 1, 6200),
        });
        byte[][] chunks = module.Chunk(512).ToArray();

        // A v3 build has no OTA v1 handlers: UpdateBegin is only acknowledged as an unknown request.
        CoapMessage begin = ParticleMessages.UpdateBegin(connection.NextMessageId(), 1, new UpdateBeginParameters(1, 512, (uint)module.Length, 0, 0));
        await connection.SendAsync(begin);
        CoapMessage ignored = await connection.ReceiveAsync(timeout);
        Assert.Equal((CoapCode.Empty, begin.MessageId), (ignored.Code, ignored.MessageId));
        Assert.False(device.FirmwareUpdate.InProgress);

        await connection.SendAsync(new UpdateStartRequest((uint)module.Length, 512, SHA256.HashData(module)).ToMessage(connection.NextMessageId(), new byte[] { 2 }));
        Assert.Equal(CoapCode.Empty, (await connection.ReceiveAsync(timeout)).Code);
        CoapMessage started = await connection.ReceiveAsync(timeout);
        Assert.True(UpdateStartResponse.TryParse(started, out UpdateStartResponse? start));
        Assert.Equal(0u, start.FileOffset);
        await connection.SendAsync(ParticleMessages.EmptyAck(started.MessageId));

        // Chunk 2 is "lost" at first: the device reports it missing behind the later ones.
        for (uint index = 1; index <= chunks.Length; index++)
        {
            if (index != 2)
            {
                await connection.SendAsync(new UpdateChunkRequest(index, chunks[index - 1]).ToMessage(connection.NextMessageId()));
            }
        }

        UpdateAck gap = await ReceiveAckAsync(connection, a => a.SelectivelyAcknowledged.Count == chunks.Length - 2, timeout);
        Assert.Equal(1u, gap.CumulativeIndex);
        await connection.SendAsync(new UpdateChunkRequest(2, chunks[1]).ToMessage(connection.NextMessageId()));
        Assert.True((await ReceiveAckAsync(connection, a => a.CumulativeIndex == chunks.Length, timeout)).Bitmap.IsEmpty);

        Task<TestConnection> rebooted = cloud.AcceptAsync(timeout);
        CoapMessage finish = new UpdateFinishRequest().ToMessage(connection.NextMessageId(), new byte[] { 3 });
        await connection.SendAsync(finish);
        CoapMessage done = await connection.ReceiveAsync(m => m.Code == CoapCode.Changed, timeout);
        Assert.Equal((CoapMessageType.Confirmable, (byte)3), (done.Type, done.Token.Span[0]));
        Assert.Equal(7, device.ProductFirmwareVersion);

        await connection.SendAsync(ParticleMessages.EmptyAck(done.MessageId));
        FirmwareUpdateApplied applied = await device.WaitForAsync<FirmwareUpdateApplied>(cancellationToken: timeout);
        Assert.Equal(8, applied.ProductFirmwareVersion);
        TestConnection next = await rebooted;
        Assert.True(HelloPayload.TryParse((await next.ReceiveAsync(ParticleMessageKind.Hello, timeout)).Payload.Span, out hello, out _));
        Assert.Equal(8, hello.ProductFirmwareVersion);
    }

    private static async Task<UpdateAck> ReceiveAckAsync(TestConnection connection, Func<UpdateAck, bool> wanted, CancellationToken timeout)
    {
        while (true)
        {
            CoapMessage message = await connection.ReceiveAsync(ParticleMessageKind.UpdateAckV3, timeout);
            Assert.True(UpdateAck.TryParse(message, out UpdateAck? ack));
            if (wanted(ack))
            {
                return ack;
            }
        }
    }
}
