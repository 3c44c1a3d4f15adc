using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Messages;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Features.Products;

namespace Bulwark.Server.Gateway;

/// <summary>One connected device after a successful handshake: reads its messages, answers them, and carries the
/// API's requests (function calls, variable reads, signal, ping) to it, matched by 1-byte token. The same session
/// serves a Gen2 TCP device (<see cref="Gen2Channel"/>) and a Gen3 UDP/DTLS device (a CoAP datagram channel); where
/// the two protocols differ it asks <see cref="ICoapChannel.IsDatagram"/>.</summary>
public sealed partial class DeviceSession : IDeviceConnection
{
    private readonly ICoapChannel _channel;
    private readonly GatewayServices _services;
    private readonly CancellationTokenSource _closed;
    private readonly ConcurrentDictionary<byte, TaskCompletionSource<CoapMessage>> _pending = new();
    private readonly ConcurrentDictionary<ushort, TaskCompletionSource<bool>> _pendingPings = new();
    private readonly List<string> _subscriptions = [];
    private readonly Lock _subscriptionLock = new();
    private EventSubscription? _eventSubscription;
    private string? _ownerUserId;
    private int _nextToken;
    private long _lastHeardTicks;

    internal DeviceSession(string deviceId, string? remoteAddress, ICoapChannel channel, GatewayServices services, CancellationToken stopping)
    {
        DeviceId = deviceId;
        RemoteAddress = remoteAddress;
        _channel = channel;
        _services = services;
        _closed = CancellationTokenSource.CreateLinkedTokenSource(stopping);
        ConnectedAt = services.Clock.GetUtcNow().UtcDateTime;
        _lastHeardTicks = ConnectedAt.Ticks;
    }

    public string DeviceId { get; }
    public string? RemoteAddress { get; }
    public DateTime ConnectedAt { get; }
    public DateTime LastHeard => new(Interlocked.Read(ref _lastHeardTicks), DateTimeKind.Utc);

    private GatewayOptions Options => _services.Options;

    /// <summary>Waits for the Hello, answers it, registers the device, then serves it until it goes away. A UDP device
    /// that restored a saved DTLS session may skip its Hello (device-protocol.md 2.1): it then runs with
    /// <paramref name="resumedHello"/>, the Hello it sent on that session before, and its first message is served as
    /// any other.</summary>
    internal async Task RunAsync(HelloPayload? resumedHello = null)
    {
        var token = _closed.Token;
        var hello = resumedHello ?? await ReceiveHelloAsync(token);
        if (hello is null)
        {
            return;
        }
        await ApplyHelloAsync(hello, token);
        if (_services.Registry.Register(this) is { } replaced)
        {
            await replaced.CloseAsync();
        }
        LogConnected(_services.Logger, DeviceId, RemoteAddress ?? "-", hello.PlatformId, hello.ProductId, hello.SystemVersion ?? 0);
        PublishStatus("online");
        _services.Ota?.OnHello(this, hello);
        try
        {
            if ((hello.Flags & HelloFlags.DeviceInitiatedDescribe) == 0)
            {
                _ = RequestDescribeAsync(token);
            }
            await ReceiveLoopAsync(token);
        }
        finally
        {
            var wasCurrent = _services.Registry.Unregister(this);
            await _closed.CancelAsync();
            FailPending();
            DisposeEventSubscription();
            if (wasCurrent)
            {
                PublishStatus("offline");
            }
            try
            {
                await _services.Store.RecordLastHeardAsync(DeviceId, LastHeard, CancellationToken.None);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogStoreFailed(_services.Logger, e, DeviceId);
            }
            LogDisconnected(_services.Logger, DeviceId);
        }
    }

    /// <summary>Reads the device's first message, which must be a valid Hello naming this device, and answers it in time.
    /// Null (after auditing why) when the device is refused.</summary>
    private async Task<HelloPayload?> ReceiveHelloAsync(CancellationToken token)
    {
        using var helloTimeout = CancellationTokenSource.CreateLinkedTokenSource(token);
        helloTimeout.CancelAfter(TimeSpan.FromSeconds(Options.HelloTimeoutSeconds));
        CoapReceiveResult first;
        try
        {
            first = await _channel.ReceiveAsync(helloTimeout.Token);
        }
        catch (OperationCanceledException) when (!token.IsCancellationRequested)
        {
            await _services.Refusals.RecordAsync(AuditEventType.DeviceProtocolViolation, RemoteAddress, DeviceId, "no Hello after the handshake");
            return null;
        }
        if (first.Message is not { } helloMessage || ParticleMessageClassifier.Classify(helloMessage) != ParticleMessageKind.Hello
            || !HelloPayload.TryParse(helloMessage.Payload.Span, out var hello, out _))
        {
            await _services.Refusals.RecordAsync(AuditEventType.DeviceProtocolViolation, RemoteAddress, DeviceId,
                "first message was not a valid Hello: " + first);
            return null;
        }
        return await AnswerHelloAsync(helloMessage, hello, token) ? hello : null;
    }

    /// <summary>Answers a Hello as the transport requires, before any database work (Device OS gives up after 4 s).
    /// Over UDP the Hello carries the device ID, which must name the device whose key completed the DTLS handshake:
    /// one device's key cannot speak for another.</summary>
    private async Task<bool> AnswerHelloAsync(CoapMessage helloMessage, HelloPayload hello, CancellationToken token)
    {
        if (!_channel.IsDatagram)
        {
            await _channel.SendAsync(ParticleMessages.ServerHello(_channel.NextMessageId()), token);
            return true;
        }
        if (hello.DeviceId is not { } claimed || !string.Equals(claimed.ToString(), DeviceId, StringComparison.OrdinalIgnoreCase))
        {
            await _channel.SendAsync(ParticleMessages.Reset(helloMessage.MessageId), token);
            await _services.Refusals.RecordAsync(AuditEventType.DeviceProtocolViolation, RemoteAddress, DeviceId,
                $"Hello names device {hello.DeviceId?.ToString() ?? "(none)"}, but the handshake was made with the key of {DeviceId}");
            return false;
        }
        await AckIfConfirmableAsync(helloMessage, token);
        return true;
    }

    /// <summary>Records what a Hello says (versions, product, platform) and decides admission and updates from it.</summary>
    private async Task ApplyHelloAsync(HelloPayload hello, CancellationToken token)
    {
        var now = _services.Clock.GetUtcNow().UtcDateTime;
        Volatile.Write(ref _ownerUserId, await _services.Store.RecordHelloAsync(DeviceId, hello, RemoteAddress, now, token));
        await AdmitAsync(hello, token);
        _hello = hello;
    }

    /// <summary>A UDP device that restored its session sends a new Hello without a new handshake when its firmware
    /// changed (after an OTA, for instance): the same session carries on with the new facts.</summary>
    private async Task OnHelloDuringSessionAsync(CoapMessage message, CancellationToken token)
    {
        if (!_channel.IsDatagram || !HelloPayload.TryParse(message.Payload.Span, out var hello, out _))
        {
            await AckIfConfirmableAsync(message, token);
            return;
        }
        if (await AnswerHelloAsync(message, hello, token))
        {
            await ApplyHelloAsync(hello, token);
            _services.Ota?.OnHello(this, hello);
        }
    }

    private async Task ReceiveLoopAsync(CancellationToken token)
    {
        using var silent = CancellationTokenSource.CreateLinkedTokenSource(token);
        var watchdog = WatchIdleAsync(silent);
        try
        {
            await ReceiveUntilSilentAsync(silent.Token, token);
        }
        finally
        {
            await silent.CancelAsync();
            await watchdog;
        }
    }

    /// <summary>Closes a silent device. A device pings only when it has *received* nothing for 15 s (device-protocol.md
    /// 7.8), so one that hears events often stays quiet: after the idle timeout it gets one ping, and only if nothing
    /// arrives within 10 s of that is <paramref name="silent"/> cancelled.</summary>
    private async Task WatchIdleAsync(CancellationTokenSource silent)
    {
        var idleSeconds = !_channel.IsDatagram ? Options.IdleTimeoutSeconds
            : Platforms.Find(_hello?.PlatformId ?? -1)?.Cellular == true ? Options.UdpCellularIdleTimeoutSeconds
            : Options.UdpIdleTimeoutSeconds;
        var idle = TimeSpan.FromSeconds(idleSeconds);
        // Over UDP the ping itself is retransmitted (a lost datagram is normal), so the answer may take longer.
        var probe = TimeSpan.FromSeconds(Math.Min(idleSeconds, _channel.IsDatagram ? 30 : 10));
        var clock = _services.Clock;
        try
        {
            while (!silent.IsCancellationRequested)
            {
                var quiet = clock.GetUtcNow().UtcDateTime - LastHeard;
                if (quiet < idle)
                {
                    await Task.Delay(idle - quiet, clock, silent.Token);
                    continue;
                }
                var before = Interlocked.Read(ref _lastHeardTicks);
                await _channel.SendAsync(ParticleMessages.Ping(_channel.NextMessageId()), silent.Token);
                await Task.Delay(probe, clock, silent.Token);
                if (Interlocked.Read(ref _lastHeardTicks) == before)
                {
                    LogIdle(_services.Logger, DeviceId);
                    await silent.CancelAsync();
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    private async Task ReceiveUntilSilentAsync(CancellationToken silent, CancellationToken token)
    {
        while (!silent.IsCancellationRequested)
        {
            CoapReceiveResult result;
            try
            {
                result = await _channel.ReceiveAsync(silent);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            if (result.Message is not { } message)
            {
                if (result.Error != CoapChannelError.EndOfStream)
                {
                    await _services.Refusals.RecordAsync(AuditEventType.DeviceProtocolViolation, RemoteAddress, DeviceId,
                        "bad frame: " + result);
                }
                return;
            }
            Interlocked.Exchange(ref _lastHeardTicks, _services.Clock.GetUtcNow().UtcDateTime.Ticks);
            if (!await HandleAsync(message, token))
            {
                return;
            }
        }
    }

    /// <summary>Handles one message; false ends the session.</summary>
    private async Task<bool> HandleAsync(CoapMessage message, CancellationToken token)
    {
        var kind = ParticleMessageClassifier.Classify(message);
        switch (kind)
        {
            case ParticleMessageKind.Ping:
                await _channel.SendAsync(ParticleMessages.EmptyAck(message.MessageId), token);
                return true;
            case ParticleMessageKind.EmptyAck:
                if (_pendingPings.TryRemove(message.MessageId, out var ping))
                {
                    ping.TrySetResult(true);
                }
                return true;
            case ParticleMessageKind.Response:
                if (message.Token.Length == 1 && _pending.TryRemove(message.Token.Span[0], out var pending))
                {
                    pending.TrySetResult(message);
                }
                await AckIfConfirmableAsync(message, token);
                return true;
            case ParticleMessageKind.TimeRequest:
                await _channel.SendAsync(ParticleMessages.TimeResponse(message, (uint)_services.Clock.GetUtcNow().ToUnixTimeSeconds()), token);
                return true;
            case ParticleMessageKind.Event:
                await AckIfConfirmableAsync(message, token);
                if (EventMessage.TryParse(message, out var evt) && evt.Name.Length is > 0 and <= 64)
                {
                    PublishFromDevice(evt);
                }
                return true;
            case ParticleMessageKind.Subscribe:
                await AckIfConfirmableAsync(message, token);
                if (SubscribeRequest.TryParse(message, out var subscribe))
                {
                    AddSubscription(subscribe.Prefix);
                }
                return true;
            case ParticleMessageKind.Describe:
                await AckIfConfirmableAsync(message, token);
                await RecordDescribeAsync(message, token);
                return true;
            case ParticleMessageKind.Hello:
                await OnHelloDuringSessionAsync(message, token);
                return true;
            case ParticleMessageKind.Goodbye:
                await AckIfConfirmableAsync(message, token);
                return false;
            case ParticleMessageKind.Reset:
                return true;
            case ParticleMessageKind.ChunkMissed:
                await AckIfConfirmableAsync(message, token);
                OnChunkMissed(message);
                return true;
            case ParticleMessageKind.UpdateAckV3:
                OnUpdateAck(message);
                return true;
            default:
                // Unknown or server-only messages: refuse them politely rather than drop a working device.
                if (message.Type == CoapMessageType.Confirmable)
                {
                    await _channel.SendAsync(ParticleMessages.Reset(message.MessageId), token);
                }
                return true;
        }
    }

    private ValueTask AckIfConfirmableAsync(CoapMessage message, CancellationToken token) =>
        message.Type == CoapMessageType.Confirmable ? _channel.SendAsync(ParticleMessages.EmptyAck(message.MessageId), token) : ValueTask.CompletedTask;

    private async Task RequestDescribeAsync(CancellationToken token)
    {
        try
        {
            var reply = await SendRequestAsync(t => ParticleMessages.DescribeRequest(_channel.NextMessageId(), t, DescribeFlags.Application), token);
            await RecordDescribeAsync(reply, token);
        }
        catch (Exception e) when (e is DeviceRequestException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            // The device may describe itself later; a missing Describe only leaves functions and variables empty.
        }
    }

    private async Task RecordDescribeAsync(CoapMessage message, CancellationToken token)
    {
        var payload = message.Payload;
        if (payload.Length == 0 || payload.Span[0] != (byte)'{')
        {
            // Not JSON: the system Describe, protobuf (an empty one is valid protobuf but says nothing).
            if (payload.Length > 0)
            {
                await RecordSystemDescribeAsync(payload, token);
            }
            return;
        }
        JsonObject? describe;
        try
        {
            describe = JsonNode.Parse(payload.Span, documentOptions: new JsonDocumentOptions { MaxDepth = 16 }) as JsonObject;
        }
        catch (JsonException)
        {
            return;
        }
        if (describe is null || (!describe.ContainsKey("f") && !describe.ContainsKey("v")))
        {
            return;
        }
        var functions = new JsonArray();
        if (describe["f"] is JsonArray f)
        {
            foreach (var name in f.OfType<JsonValue>().Select(v => v.ToString()).Where(n => n.Length is > 0 and <= 64).Take(64))
            {
                functions.Add(name);
            }
        }
        var variables = new JsonObject();
        if (describe["v"] is JsonObject v)
        {
            foreach (var (name, type) in v.Take(64))
            {
                if (name.Length is > 0 and <= 64 && type is JsonValue value && value.TryGetValue<int>(out var code))
                {
                    variables[name] = code;
                }
            }
        }
        try
        {
            await _services.Store.RecordDescribeAsync(DeviceId, functions.ToJsonString(), variables.ToJsonString(), token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(_services.Logger, e, DeviceId);
        }
    }

    private async Task RecordSystemDescribeAsync(ReadOnlyMemory<byte> payload, CancellationToken token)
    {
        if (!SystemDescribe.TryParse(payload.Span, out var describe, out var error))
        {
            await _services.Refusals.RecordAsync(AuditEventType.DeviceProtocolViolation, RemoteAddress, DeviceId,
                $"system Describe not understood ({error}), {payload.Length} bytes");
            return;
        }
        try
        {
            await _services.Store.RecordSystemModulesAsync(DeviceId, describe.ToModulesJson(), token);
            _services.Ota?.OnSystemDescribe(this, describe);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogStoreFailed(_services.Logger, e, DeviceId);
        }
    }

    private void PublishFromDevice(EventMessage evt)
    {
        Publish(new CloudEvent(evt.Name, evt.Data.Length == 0 ? null : evt.GetDataString(), evt.TtlSeconds,
            _services.Clock.GetUtcNow().UtcDateTime, DeviceId, Volatile.Read(ref _ownerUserId), !evt.IsLegacyPublic) { DeviceId = DeviceId });
    }

    private void PublishStatus(string status) =>
        Publish(new CloudEvent(DeviceEventDelivery.StatusEvent, status, 60, _services.Clock.GetUtcNow().UtcDateTime, DeviceId,
            Volatile.Read(ref _ownerUserId)) { DeviceId = DeviceId });

    private void AddSubscription(string prefix)
    {
        lock (_subscriptionLock)
        {
            if (_subscriptions.Contains(prefix) || _subscriptions.Count >= Options.MaxSubscriptionsPerDevice)
            {
                return;
            }
            _subscriptions.Add(prefix);
            _eventSubscription?.AddPrefix(prefix);
        }
        EnsureEventSubscription();
    }

    public void SetOwner(string? ownerUserId)
    {
        Volatile.Write(ref _ownerUserId, ownerUserId);
        DisposeEventSubscription();
        EnsureEventSubscription();
    }

    private void EnsureEventSubscription()
    {
        var owner = Volatile.Read(ref _ownerUserId);
        if (owner is null || _closed.IsCancellationRequested)
        {
            return;
        }
        lock (_subscriptionLock)
        {
            if (_eventSubscription is not null || _subscriptions.Count == 0)
            {
                return;
            }
            // The bus matches the prefixes (and leaves out the device's own events and what devices do not receive).
            _eventSubscription = _services.Bus.SubscribeDevice(owner, DeviceId, capacity: 256);
            foreach (var prefix in _subscriptions)
            {
                _eventSubscription.AddPrefix(prefix);
            }
            _ = PumpEventsAsync(_eventSubscription);
        }
    }

    private async Task PumpEventsAsync(EventSubscription subscription)
    {
        try
        {
            await foreach (var e in subscription.Reader.ReadAllAsync(_closed.Token))
            {
                var data = e.Data is null ? ReadOnlyMemory<byte>.Empty : System.Text.Encoding.UTF8.GetBytes(e.Data);
                try
                {
                    // Cloud-to-device events are never acknowledged on TCP: always NON.
                    await _channel.SendAsync(ParticleMessages.Event(CoapMessageType.NonConfirmable, _channel.NextMessageId(), e.Name, data, e.TtlSeconds), _closed.Token);
                }
                catch (ArgumentException)
                {
                    // Too large for the device's frame: skip this event rather than drop the device.
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    private void DisposeEventSubscription()
    {
        lock (_subscriptionLock)
        {
            _eventSubscription?.Dispose();
            _eventSubscription = null;
        }
    }

    public async Task<int> CallFunctionAsync(string name, string argument, CancellationToken cancellationToken)
    {
        var reply = await SendRequestAsync(t => ParticleMessages.FunctionCall(_channel.NextMessageId(), t, name, argument), cancellationToken);
        if (!reply.Code.IsSuccess)
        {
            throw new DeviceRequestException(reply.Code == CoapCode.NotFound ? DeviceRequestFailure.NotFound : DeviceRequestFailure.Rejected,
                $"The device answered {reply.Code.Class}.{reply.Code.Detail:D2}");
        }
        return ParticleMessages.TryReadFunctionReturn(reply, out var value) ? value
            : throw new DeviceRequestException(DeviceRequestFailure.Rejected, "The device's function result was malformed");
    }

    public async Task<byte[]> ReadVariableAsync(string name, CancellationToken cancellationToken)
    {
        var reply = await SendRequestAsync(t => ParticleMessages.VariableRequest(_channel.NextMessageId(), t, name), cancellationToken);
        if (!reply.Code.IsSuccess)
        {
            throw new DeviceRequestException(reply.Code == CoapCode.NotFound ? DeviceRequestFailure.NotFound : DeviceRequestFailure.Rejected,
                $"Variable {name} not found");
        }
        return reply.Payload.ToArray();
    }

    public async Task SignalAsync(bool start, CancellationToken cancellationToken) =>
        await SendRequestAsync(t => ParticleMessages.Signal(_channel.NextMessageId(), t, start), cancellationToken);

    public async Task<bool> PingAsync(CancellationToken cancellationToken)
    {
        var id = _channel.NextMessageId();
        var tcs = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        _pendingPings[id] = tcs;
        try
        {
            await _channel.SendAsync(ParticleMessages.Ping(id), _closed.Token);
            return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(Math.Min(Options.RequestTimeoutSeconds, 10)), cancellationToken);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException or IOException or ObjectDisposedException)
        {
            return false;
        }
        finally
        {
            _pendingPings.TryRemove(id, out _);
        }
    }

    private async Task<CoapMessage> SendRequestAsync(Func<byte, CoapMessage> build, CancellationToken cancellationToken)
    {
        if (_closed.IsCancellationRequested)
        {
            throw new DeviceRequestException(DeviceRequestFailure.Offline, "Device is not connected");
        }
        var tcs = new TaskCompletionSource<CoapMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        byte token = 0;
        var allocated = false;
        for (var i = 0; i < 256 && !allocated; i++)
        {
            token = (byte)Interlocked.Increment(ref _nextToken);
            allocated = _pending.TryAdd(token, tcs);
        }
        if (!allocated)
        {
            throw new DeviceRequestException(DeviceRequestFailure.Rejected, "Too many requests are waiting on this device");
        }
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _closed.Token);
            await _channel.SendAsync(build(token), linked.Token);
            return await tcs.Task.WaitAsync(TimeSpan.FromSeconds(Options.RequestTimeoutSeconds), linked.Token);
        }
        catch (TimeoutException)
        {
            throw new DeviceRequestException(DeviceRequestFailure.Timeout, "Timed out waiting for the device");
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            throw new DeviceRequestException(DeviceRequestFailure.Offline, "Device is not connected");
        }
        finally
        {
            _pending.TryRemove(new KeyValuePair<byte, TaskCompletionSource<CoapMessage>>(token, tcs));
        }
    }

    private void FailPending()
    {
        foreach (var (_, tcs) in _pending)
        {
            tcs.TrySetException(new DeviceRequestException(DeviceRequestFailure.Offline, "Device is not connected"));
        }
        foreach (var (_, tcs) in _pendingPings)
        {
            tcs.TrySetResult(false);
        }
    }

    public async Task CloseAsync()
    {
        await _closed.CancelAsync();
        await _channel.DisposeAsync();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} connected from {Address} (platform {PlatformId}, product {ProductId}, Device OS {SystemVersion})")]
    private static partial void LogConnected(ILogger logger, string deviceId, string address, int platformId, int productId, int systemVersion);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} disconnected")]
    private static partial void LogDisconnected(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Device {DeviceId} went silent; closing")]
    private static partial void LogIdle(ILogger logger, string deviceId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record state for device {DeviceId}")]
    private static partial void LogStoreFailed(ILogger logger, Exception exception, string deviceId);
}
