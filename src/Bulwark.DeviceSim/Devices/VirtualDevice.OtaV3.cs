using System.Net.Sockets;
using Bulwark.DeviceSim.Ota;
using Bulwark.Firmware;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Devices;

/// <summary>OTA v3 on the virtual device: routing, the held-back UpdateAck timer, and applying the validated module
/// through the same path as OTA v1.</summary>
public sealed partial class VirtualDevice
{
    private readonly Lock _otaV3Gate = new();
    private FirmwareUpdateReceiverV3? _otaV3;
    private int _otaV3AckTimerRunning;
    // The module UpdateFinish validated, applied when the cloud ACKs the 2.04 answer.
    private ParsedModule? _pendingOtaV3Module;

    /// <summary>The OTA v3 receiver (used when <see cref="VirtualDeviceOptions.OtaProtocolV3"/> is on).</summary>
    public FirmwareUpdateReceiverV3 FirmwareUpdateV3
    {
        get
        {
            lock (_otaV3Gate)
            {
                // The largest chunk that fits the device's message buffer with the 14 bytes of CoAP overhead, in words.
                return _otaV3 ??= new FirmwareUpdateReceiverV3(_options.MaxBinarySize, (uint)(_options.MaxMessageSize - 14) / 4 * 4, _time);
            }
        }
    }

    private bool OtaInProgress => _ota.InProgress || (_otaV3?.InProgress ?? false);

    /// <summary>A Device OS build has either OTA v3 or v1 (protocol.cpp compiles one set of handlers): the other set's
    /// messages are unknown to it.</summary>
    private ParticleMessageKind RouteOta(ParticleMessageKind kind) => kind switch
    {
        ParticleMessageKind.UpdateBegin or ParticleMessageKind.Chunk or ParticleMessageKind.UpdateDone when _options.OtaProtocolV3 => ParticleMessageKind.Unknown,
        ParticleMessageKind.UpdateStartV3 or ParticleMessageKind.UpdateChunkV3 or ParticleMessageKind.UpdateFinishV3 when !_options.OtaProtocolV3 => ParticleMessageKind.Unknown,
        _ => kind,
    };

    private async ValueTask HandleOtaV3Async(Session session, ParticleMessageKind kind, CoapMessage message)
    {
        FirmwareUpdateReceiverV3 receiver = FirmwareUpdateV3;
        if (kind == ParticleMessageKind.UpdateChunkV3 && _options.LoseOtaChunk is { } lose
            && UpdateChunkRequest.TryParse(message, out UpdateChunkRequest? chunk, out _) && lose(chunk.Index))
        {
            return;
        }

        OtaStep step;
        lock (_otaV3Gate)
        {
            step = kind switch
            {
                ParticleMessageKind.UpdateStartV3 => receiver.OnUpdateStart(message, session.Channel.NextMessageId),
                ParticleMessageKind.UpdateChunkV3 => receiver.OnUpdateChunk(message, session.Channel.NextMessageId),
                _ => receiver.OnUpdateFinish(message, session.Channel.NextMessageId),
            };
        }

        await SendAllAsync(session, step).ConfigureAwait(false);
        if (step.CompletedImage is { } image)
        {
            await ValidateOtaV3ImageAsync(session, receiver, message, image).ConfigureAwait(false);
        }
        else if (receiver.OwesAck && Interlocked.Exchange(ref _otaV3AckTimerRunning, 1) == 0)
        {
            _ = SendHeldBackAcksAsync(session, receiver);
        }
    }

    /// <summary>What Device OS's finish_firmware_update(VALIDATE_ONLY) decides: the module checks of the v1 path.</summary>
    private async ValueTask ValidateOtaV3ImageAsync(Session session, FirmwareUpdateReceiverV3 receiver, CoapMessage finish, ReadOnlyMemory<byte> image)
    {
        (int result, string reason, ParsedModule? module) = CheckImage(image.Span);
        CoapMessage answer;
        lock (_otaV3Gate)
        {
            answer = module is null
                ? receiver.RefuseFinish(finish, session.Channel.NextMessageId(), result, reason)
                : receiver.AcceptFinish(finish, session.Channel.NextMessageId());
            _pendingOtaV3Module = module;
        }

        await session.SendAsync(answer).ConfigureAwait(false);
        if (module is null)
        {
            Notify(new FirmwareUpdateRejected(result, reason));
        }
    }

    /// <summary>The cloud's empty ACK of the UpdateFinish answer is the device's signal to apply the module and reset.</summary>
    private void OnEmptyAck(Session session, CoapMessage ack)
    {
        ParsedModule? module;
        lock (_otaV3Gate)
        {
            if (_otaV3 is null || !_otaV3.OnEmptyAck(ack))
            {
                return;
            }

            module = _pendingOtaV3Module;
            _pendingOtaV3Module = null;
        }

        if (module is not null)
        {
            ApplyModule(session, module);
        }
    }

    /// <summary>Device OS's process() loop: a chunk left unacknowledged is acknowledged once <see cref="OtaV3.AckDelay"/> passes.</summary>
    private async Task SendHeldBackAcksAsync(Session session, FirmwareUpdateReceiverV3 receiver)
    {
        try
        {
            while (true)
            {
                await Task.Delay(OtaV3.AckDelay, _time, session.Token).ConfigureAwait(false);
                CoapMessage? ack;
                lock (_otaV3Gate)
                {
                    ack = receiver.TakeDueAck(session.Channel.NextMessageId);
                    if (ack is null && !receiver.OwesAck)
                    {
                        Volatile.Write(ref _otaV3AckTimerRunning, 0);
                        return;
                    }
                }

                if (ack is not null)
                {
                    await session.SendAsync(ack).ConfigureAwait(false);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException or SocketException)
        {
            Volatile.Write(ref _otaV3AckTimerRunning, 0);
        }
    }

    private void AbortOtaV3()
    {
        lock (_otaV3Gate)
        {
            _otaV3?.Abort();
            _pendingOtaV3Module = null;
        }
    }
}
