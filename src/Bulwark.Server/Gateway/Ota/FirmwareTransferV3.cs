using System.Security.Cryptography;
using System.Threading.Channels;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.Server.Gateway.Ota;

/// <summary>The server side of OTA v3 (Gen3 devices, Hello flag 0x80; see README.md in this folder): UpdateStart with the
/// file's size, chunk size and SHA-256; UpdateChunks kept within the device's window and resent when its UpdateAcks show
/// a gap behind a later chunk or when they stop coming; UpdateFinish, whose 2.04 (once the session ACKs it) makes the
/// device apply the image. Its next Hello proves the new version.</summary>
internal sealed class FirmwareTransferV3(IFirmwareUpdateLink link, OtaOptions options) : IFirmwareSender
{
    // Consecutive acknowledgement timeouts, each followed by a resend, before the transfer is abandoned.
    private const int MaxStalls = 5;

    public async Task<TransferResult> SendAsync(ReadOnlyMemory<byte> image, CancellationToken cancellationToken)
    {
        var chunkSize = ChooseChunkSize(link.Hello?.OtaChunkSize, options.MaxChunkSize);
        var acks = Channel.CreateUnbounded<UpdateAck>(new UnboundedChannelOptions { SingleReader = true });
        // Listening before UpdateStart goes out: nothing the device says about this transfer is missed.
        link.UpdateAcks = acks.Writer;
        try
        {
            var hash = SHA256.HashData(image.Span);
            var startReply = await link.RequestAsync(
                (id, token) => new UpdateStartRequest((uint)image.Length, (uint)chunkSize, hash).ToMessage(id, new[] { token }), cancellationToken);
            if (!UpdateStartResponse.TryParse(startReply, out var start))
            {
                return TransferResult.Failed($"The device refused the update ({Describe(startReply)})");
            }
            if (start.FileOffset > image.Length)
            {
                await CancelQuietlyAsync(cancellationToken);
                return TransferResult.Failed($"The device claims {start.FileOffset} bytes of a {image.Length}-byte file");
            }

            // A resumed update (same SHA-256) numbers its chunks from the offset the device already holds.
            var transfer = new WindowedSender(link, options, image[(int)start.FileOffset..], chunkSize, (int)start.WindowSize, acks.Reader);
            var error = await transfer.RunAsync(cancellationToken);
            if (error is not null)
            {
                await CancelQuietlyAsync(cancellationToken);
                return TransferResult.Failed(error, transfer.Sent, transfer.Resent);
            }

            var finish = await link.RequestAsync((id, token) => new UpdateFinishRequest().ToMessage(id, new[] { token }), cancellationToken);
            return finish.Code == CoapCode.Changed
                ? new TransferResult(true, null, transfer.Sent, transfer.Resent)
                : TransferResult.Failed($"The device refused the image ({Describe(finish)})", transfer.Sent, transfer.Resent);
        }
        finally
        {
            link.UpdateAcks = null;
        }
    }

    /// <summary>The device's preferred size within what it accepts (at least 512, a multiple of 4) and our frame limit.</summary>
    internal static int ChooseChunkSize(ushort? preferred, int maxChunkSize)
    {
        var size = Math.Min(preferred is > 0 ? preferred.Value : OtaV3.MinChunkSize, maxChunkSize);
        return Math.Max(OtaV3.MinChunkSize, size / 4 * 4);
    }

    private static string Describe(CoapMessage reply) =>
        OtaV3Diagnostic.TryParse(reply.Payload.Span, out var diagnostic)
            ? $"{reply.Code}, error {diagnostic}"
            : reply.Code.ToString();

    /// <summary>Tells the device to drop the update but keep what it stored, so a later attempt with the same file resumes.</summary>
    private async Task CancelQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await link.RequestAsync((id, token) => new UpdateFinishRequest(CancelUpdate: true).ToMessage(id, new[] { token }), cancellationToken);
        }
        catch (DeviceRequestException)
        {
        }
    }

    /// <summary>The chunk phase: a sliding window over 1-based chunk indices driven by the device's UpdateAcks.</summary>
    private sealed class WindowedSender
    {
        private readonly IFirmwareUpdateLink _link;
        private readonly ReadOnlyMemory<byte> _data;
        private readonly int _chunkSize;
        private readonly uint _count;
        private readonly uint _inFlight;
        private readonly ChannelReader<UpdateAck> _acks;
        private readonly TimeSpan _ackTimeout;
        private readonly ChunkPacer _pace;
        private readonly bool[] _acked;
        // When each chunk last went out, on a counter of transmissions: a gap is resent only once the device has
        // acknowledged something sent after the gap's own latest copy.
        private readonly long[] _sentAt;
        private long _transmissions;
        private uint _cumulative;
        private uint _next = 1;

        public WindowedSender(IFirmwareUpdateLink link, OtaOptions options, ReadOnlyMemory<byte> data, int chunkSize, int window, ChannelReader<UpdateAck> acks)
        {
            _link = link;
            _data = data;
            _chunkSize = chunkSize;
            _count = (uint)((data.Length + chunkSize - 1) / chunkSize);
            _inFlight = (uint)Math.Max(1, options.MaxChunksInFlight > 0 ? Math.Min(window, options.MaxChunksInFlight) : window);
            _acks = acks;
            _ackTimeout = TimeSpan.FromSeconds(options.AckTimeoutSeconds);
            _pace = new ChunkPacer(options.MaxChunksPerSecond);
            _acked = new bool[_count + 1];
            _sentAt = new long[_count + 1];
        }

        /// <summary>Chunks sent once; resends are counted in <see cref="Resent"/>.</summary>
        public int Sent { get; private set; }

        public int Resent { get; private set; }

        /// <summary>Null once the device holds every chunk, else why it does not.</summary>
        public async Task<string?> RunAsync(CancellationToken cancellationToken)
        {
            var stalls = 0;
            while (_cumulative < _count)
            {
                while (_next <= _count && _next <= _cumulative + _inFlight)
                {
                    await SendAsync(_next++, cancellationToken);
                    Sent++;
                }
                if (await NextAckAsync(cancellationToken) is not { } ack)
                {
                    if (++stalls > MaxStalls)
                    {
                        return $"The device acknowledged nothing new for {MaxStalls + 1} × {_ackTimeout.TotalSeconds:0.#} s ({_cumulative} of {_count} chunks held)";
                    }
                    for (var i = _cumulative + 1; i < _next; i++)
                    {
                        if (!_acked[i])
                        {
                            await ResendAsync(i, cancellationToken);
                        }
                    }
                    continue;
                }
                if (await ApplyAsync(ack, cancellationToken))
                {
                    stalls = 0;
                }
                while (_acks.TryRead(out var more))
                {
                    stalls = await ApplyAsync(more, cancellationToken) ? 0 : stalls;
                }
            }
            return null;
        }

        /// <summary>Records an UpdateAck and resends the gaps it exposes; true when it acknowledged anything new.</summary>
        private async Task<bool> ApplyAsync(UpdateAck ack, CancellationToken cancellationToken)
        {
            var progress = false;
            var through = Math.Min(ack.CumulativeIndex, _count);
            for (; _cumulative < through; _cumulative++)
            {
                progress |= !_acked[_cumulative + 1];
                _acked[_cumulative + 1] = true;
            }
            long newest = 0;
            uint highest = 0;
            foreach (var index in ack.SelectivelyAcknowledged)
            {
                if (index > _count || index <= _cumulative)
                {
                    continue;
                }
                progress |= !_acked[index];
                _acked[index] = true;
                newest = Math.Max(newest, _sentAt[index]);
                highest = index;
            }
            for (var i = _cumulative + 1; i < highest; i++)
            {
                if (!_acked[i] && _sentAt[i] < newest)
                {
                    await ResendAsync(i, cancellationToken);
                }
            }
            return progress;
        }

        private async Task<UpdateAck?> NextAckAsync(CancellationToken cancellationToken)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_ackTimeout);
            try
            {
                return await _acks.ReadAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return null;
            }
        }

        private async Task ResendAsync(uint index, CancellationToken cancellationToken)
        {
            await SendAsync(index, cancellationToken);
            Resent++;
        }

        private async Task SendAsync(uint index, CancellationToken cancellationToken)
        {
            var offset = (int)(index - 1) * _chunkSize;
            var chunk = new UpdateChunkRequest(index, _data.Slice(offset, Math.Min(_chunkSize, _data.Length - offset)));
            _sentAt[index] = ++_transmissions;
            await _link.SendAsync(chunk.ToMessage, cancellationToken);
            await _pace.WaitAsync(cancellationToken);
        }
    }
}
