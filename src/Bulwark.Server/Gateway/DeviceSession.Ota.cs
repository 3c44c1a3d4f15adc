using System.Threading.Channels;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Gateway.Ota;

namespace Bulwark.Server.Gateway;

/// <summary>The session's side of OTA v1: what <see cref="FirmwareTransfer"/> sends and receives through.</summary>
public sealed partial class DeviceSession : IFirmwareUpdateLink
{
    private HelloPayload? _hello;
    private ChannelWriter<ushort>? _missedChunks;

    HelloPayload? IFirmwareUpdateLink.Hello => _hello;

    CancellationToken IFirmwareUpdateLink.Closed => _closed.Token;

    ChannelWriter<ushort>? IFirmwareUpdateLink.MissedChunks
    {
        get => Volatile.Read(ref _missedChunks);
        set => Volatile.Write(ref _missedChunks, value);
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
}
