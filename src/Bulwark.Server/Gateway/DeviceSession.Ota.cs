using System.Threading.Channels;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Gateway.Ota;

namespace Bulwark.Server.Gateway;

/// <summary>The session's side of OTA: what <see cref="FirmwareTransfer"/> (v1) and <see cref="FirmwareTransferV3"/> send
/// and receive through.</summary>
public sealed partial class DeviceSession : IFirmwareUpdateLink
{
    private HelloPayload? _hello;
    private ChannelWriter<ushort>? _missedChunks;
    private ChannelWriter<UpdateAck>? _updateAcks;

    HelloPayload? IFirmwareUpdateLink.Hello => _hello;

    /// <summary>The device's latest Hello on this session; null before it arrived.</summary>
    internal HelloPayload? Hello => _hello;

    CancellationToken IFirmwareUpdateLink.Closed => _closed.Token;

    ChannelWriter<ushort>? IFirmwareUpdateLink.MissedChunks
    {
        get => Volatile.Read(ref _missedChunks);
        set => Volatile.Write(ref _missedChunks, value);
    }

    ChannelWriter<UpdateAck>? IFirmwareUpdateLink.UpdateAcks
    {
        get => Volatile.Read(ref _updateAcks);
        set => Volatile.Write(ref _updateAcks, value);
    }

    Task<CoapMessage> IFirmwareUpdateLink.RequestAsync(Func<ushort, byte, CoapMessage> build, CancellationToken cancellationToken) =>
        SendRequestAsync(token => build(_channel.NextMessageId(), token), cancellationToken);

    async ValueTask IFirmwareUpdateLink.SendAsync(Func<ushort, CoapMessage> build, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
        await _channel.SendAsync(build(_channel.NextMessageId()), linked.Token);
    }

    private void OnChunkMissed(CoapMessage message)
    {
        if (Volatile.Read(ref _missedChunks) is { } writer && ParticleMessages.TryReadChunkMissed(message, out var indices))
        {
            foreach (var index in indices)
            {
                writer.TryWrite(index);
            }
        }
    }

    /// <summary>An OTA v3 UpdateAck (NON POST /A); dropped when no v3 transfer is listening.</summary>
    private void OnUpdateAck(CoapMessage message)
    {
        if (Volatile.Read(ref _updateAcks) is { } writer && UpdateAck.TryParse(message, out var ack))
        {
            writer.TryWrite(ack);
        }
    }
}
