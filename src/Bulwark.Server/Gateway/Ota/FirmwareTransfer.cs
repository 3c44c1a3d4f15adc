using System.Text.Json;
using System.Threading.Channels;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.Server.Gateway.Ota;

/// <summary>What the OTA sender needs of a device connection (implemented by <see cref="DeviceSession"/>).</summary>
internal interface IFirmwareUpdateLink
{
    string DeviceId { get; }

    /// <summary>The device's Hello (chunk size, versions); null before it arrived.</summary>
    HelloPayload? Hello { get; }

    /// <summary>Cancelled when the connection ends.</summary>
    CancellationToken Closed { get; }

    /// <summary>Sends a request built from (message id, token) and waits for the response carrying the token.</summary>
    Task<CoapMessage> RequestAsync(Func<ushort, byte, CoapMessage> build, CancellationToken cancellationToken);

    /// <summary>Sends a message built from a fresh message id, expecting no reply.</summary>
    ValueTask SendAsync(Func<ushort, CoapMessage> build, CancellationToken cancellationToken);

    /// <summary>While set, ChunkMissed indices from the device are written here.</summary>
    ChannelWriter<ushort>? MissedChunks { get; set; }

    /// <summary>While set, the device's OTA v3 UpdateAcks are written here.</summary>
    ChannelWriter<UpdateAck>? UpdateAcks { get; set; }
}

/// <summary>One way of moving an image to a device.</summary>
internal interface IFirmwareSender
{
    Task<TransferResult> SendAsync(ReadOnlyMemory<byte> image, CancellationToken cancellationToken);
}

/// <summary>How one transfer ended.</summary>
internal sealed record TransferResult(bool Succeeded, string? Error, int ChunksSent, int ChunksResent)
{
    public static TransferResult Failed(string error, int sent = 0, int resent = 0) => new(false, error, sent, resent);
}

/// <summary>The server side of OTA v1 (device-protocol.md 1.6, 7.4–7.6): UpdateBegin, Chunk with CRC (fast OTA with
/// indices when the device agrees, else one chunk at a time with ChunkReceived), UpdateDone, resending what ChunkMissed
/// names. The device's UpdateDone result decides; its next Hello proves the new version.</summary>
internal sealed class FirmwareTransfer(IFirmwareUpdateLink link, OtaOptions options) : IFirmwareSender
{
    /// <summary>OTA v3 for devices whose Hello says they speak it (flag 0x80; such devices no longer handle v1), else v1.</summary>
    public static IFirmwareSender For(IFirmwareUpdateLink link, OtaOptions options) =>
        link.Hello is { } hello && hello.Flags.HasFlag(HelloFlags.OtaProtocolV3)
            ? new FirmwareTransferV3(link, options)
            : new FirmwareTransfer(link, options);

    private const int MaxMissedRounds = 10;
    private const int MaxChunkRetries = 3;

    public async Task<TransferResult> SendAsync(ReadOnlyMemory<byte> image, CancellationToken cancellationToken)
    {
        var chunkSize = Math.Clamp((int)(link.Hello?.OtaChunkSize ?? 512), 64, options.MaxChunkSize);
        var count = (image.Length + chunkSize - 1) / chunkSize;
        if (count > ushort.MaxValue)
        {
            return TransferResult.Failed("The image has more chunks than fast OTA can index");
        }
        var sent = 0;
        var resent = 0;
        byte updateToken = 0;
        var begin = await link.RequestAsync((id, token) =>
        {
            updateToken = token;
            return ParticleMessages.UpdateBegin(id, token, new UpdateBeginParameters(Flags: 0x01, (ushort)chunkSize, (uint)image.Length, Store: 0, Address: 0));
        }, cancellationToken);
        if (!begin.Code.IsSuccess)
        {
            return TransferResult.Failed($"The device refused the update ({begin.Code.Class}.{begin.Code.Detail:D2})");
        }
        var fast = begin.Payload.Length >= 1 && (begin.Payload.Span[0] & 0x01) != 0;
        var pace = new ChunkPacer(options.MaxChunksPerSecond);
        if (fast)
        {
            for (var i = 0; i < count; i++)
            {
                await SendFastChunkAsync(image, chunkSize, i, updateToken, cancellationToken);
                sent++;
                await pace.WaitAsync(cancellationToken);
            }
            for (var round = 0; ; round++)
            {
                var missed = Channel.CreateUnbounded<ushort>();
                link.MissedChunks = missed.Writer;
                try
                {
                    var done = await link.RequestAsync((id, token) => ParticleMessages.UpdateDone(id, token), cancellationToken);
                    if (done.Code == CoapCode.Changed)
                    {
                        return Result(done, sent, resent);
                    }
                    if (done.Code != CoapCode.BadRequest || round >= MaxMissedRounds)
                    {
                        return TransferResult.Failed($"UpdateDone answered {done.Code.Class}.{done.Code.Detail:D2} after {round} resend rounds", sent, resent);
                    }
                    var indices = await CollectAsync(missed.Reader, cancellationToken);
                    if (indices.Count == 0)
                    {
                        return TransferResult.Failed("The device refused UpdateDone without naming missing chunks", sent, resent);
                    }
                    foreach (var index in indices.Where(i => i < count))
                    {
                        await SendFastChunkAsync(image, chunkSize, index, updateToken, cancellationToken);
                        resent++;
                        await pace.WaitAsync(cancellationToken);
                    }
                }
                finally
                {
                    link.MissedChunks = null;
                }
            }
        }

        for (var i = 0; i < count; i++)
        {
            var data = Slice(image, chunkSize, i);
            for (var attempt = 0; ; attempt++)
            {
                var reply = await link.RequestAsync((id, token) => ParticleMessages.Chunk(id, token, data), cancellationToken);
                sent++;
                if (reply.Code.IsSuccess)
                {
                    break;
                }
                if (attempt >= MaxChunkRetries)
                {
                    return TransferResult.Failed($"Chunk {i} refused {attempt + 1} times ({reply.Code.Class}.{reply.Code.Detail:D2})", sent, resent);
                }
                resent++;
            }
            await pace.WaitAsync(cancellationToken);
        }
        var finished = await link.RequestAsync((id, token) => ParticleMessages.UpdateDone(id, token), cancellationToken);
        return finished.Code == CoapCode.Changed ? Result(finished, sent, resent)
            : TransferResult.Failed($"UpdateDone answered {finished.Code.Class}.{finished.Code.Detail:D2}", sent, resent);
    }

    private ValueTask SendFastChunkAsync(ReadOnlyMemory<byte> image, int chunkSize, int index, byte token, CancellationToken cancellationToken)
    {
        var data = Slice(image, chunkSize, index);
        return link.SendAsync(id => ParticleMessages.Chunk(id, token, data, (ushort)index), cancellationToken);
    }

    private static ReadOnlyMemory<byte> Slice(ReadOnlyMemory<byte> image, int chunkSize, int index)
    {
        var offset = index * chunkSize;
        return image.Slice(offset, Math.Min(chunkSize, image.Length - offset));
    }

    /// <summary>ChunkMissed follows the 4.00 to UpdateDone; take what arrives until the device goes quiet.</summary>
    private async Task<List<ushort>> CollectAsync(ChannelReader<ushort> reader, CancellationToken cancellationToken)
    {
        var indices = new SortedSet<ushort>();
        var wait = TimeSpan.FromSeconds(options.ChunkMissedWaitSeconds);
        while (true)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(indices.Count == 0 ? wait : TimeSpan.FromMilliseconds(200));
            try
            {
                indices.Add(await reader.ReadAsync(timeout.Token));
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return [.. indices];
            }
        }
    }

    private static TransferResult Result(CoapMessage done, int sent, int resent)
    {
        var code = ReadResultCode(done);
        return code is null or 0 ? new TransferResult(true, null, sent, resent)
            : TransferResult.Failed($"The device refused the image (result {code})", sent, resent);
    }

    /// <summary>The <c>r</c> of UpdateDone's <c>{"r":N}</c>; null when absent or unreadable.</summary>
    internal static int? ReadResultCode(CoapMessage done)
    {
        try
        {
            using var json = JsonDocument.Parse(done.Payload);
            return json.RootElement.ValueKind == JsonValueKind.Object && json.RootElement.TryGetProperty("r", out var r) && r.TryGetInt32(out var value)
                ? value : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
