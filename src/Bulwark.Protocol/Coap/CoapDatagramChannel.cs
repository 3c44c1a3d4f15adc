using System.Threading.Channels;

namespace Bulwark.Protocol.Coap;

/// <summary>The CoAP reliability settings (RFC 7252 section 4.8), with Particle's message size.</summary>
public sealed record CoapDatagramOptions
{
    /// <summary>ACK_TIMEOUT: the first wait for an acknowledgement of a confirmable message.</summary>
    public TimeSpan AckTimeout { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>ACK_RANDOM_FACTOR: the first wait is drawn from [AckTimeout, AckTimeout × factor).</summary>
    public double AckRandomFactor { get; init; } = 1.5;

    /// <summary>MAX_RETRANSMIT: resends before the peer is declared unreachable.</summary>
    public int MaxRetransmit { get; init; } = 4;

    /// <summary>How long a received message ID is remembered to recognise a retransmission (EXCHANGE_LIFETIME is 247 s).</summary>
    public TimeSpan DeduplicationLifetime { get; init; } = TimeSpan.FromSeconds(247);

    /// <summary>How many received message IDs are remembered at most (bounds memory per peer).</summary>
    public int DeduplicationCapacity { get; init; } = 32;

    /// <summary>Received messages waiting for the reader; beyond this, datagrams are dropped (the peer retransmits CONs).</summary>
    public int ReceiveQueueCapacity { get; init; } = 64;

    /// <summary>The largest CoAP message sent: Device OS's Hello advertises 1152 bytes and drops larger ones.</summary>
    public int MaxMessageLength { get; init; } = 1152;
}

/// <summary>Sends one datagram (already a whole CoAP message) to the peer, e.g. through a DTLS session.</summary>
public delegate ValueTask CoapDatagramSender(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken);

/// <summary>
/// CoAP over an unreliable datagram transport with one peer (RFC 7252 section 4): confirmable messages this side
/// sends are retransmitted with exponential back-off until acknowledged or reset, and confirmable or non-confirmable
/// messages the peer repeats are recognised by message ID. A repeated CON is answered again with the very ACK or RST
/// sent the first time and is not handed to the reader a second time. The owner pushes each received datagram in
/// through <see cref="Deliver"/>; the reader pulls messages out through <see cref="ReceiveAsync"/>.
/// </summary>
/// <remarks>
/// ACKs and RSTs reach the reader too (the first one per outstanding CON), so a session can match piggybacked
/// responses by token and ping acknowledgements by message ID exactly as it does over TCP.
/// </remarks>
public sealed class CoapDatagramChannel : ICoapChannel
{
    private readonly CoapDatagramSender _send;
    private readonly CoapDatagramOptions _options;
    private readonly TimeProvider _time;
    private readonly Channel<CoapReceiveResult> _incoming;
    private readonly Dictionary<ushort, Outstanding> _outstanding = [];
    private readonly Queue<ReceivedExchange> _recent = new();
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _closed = new();
    private CoapChannelError _fault;
    private int _messageId;

    public CoapDatagramChannel(CoapDatagramSender send, ushort initialMessageId, CoapDatagramOptions? options = null, TimeProvider? time = null)
    {
        ArgumentNullException.ThrowIfNull(send);
        _send = send;
        _options = options ?? new CoapDatagramOptions();
        _time = time ?? TimeProvider.System;
        _messageId = initialMessageId;
        _incoming = Channel.CreateBounded<CoapReceiveResult>(new BoundedChannelOptions(_options.ReceiveQueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.DropWrite,
        });
    }

    public bool IsDatagram => true;

    /// <summary>Confirmable messages sent and not yet acknowledged (for tests and diagnostics).</summary>
    public int OutstandingCount
    {
        get
        {
            lock (_gate)
            {
                return _outstanding.Count;
            }
        }
    }

    public ushort NextMessageId() => (ushort)Interlocked.Increment(ref _messageId);

    /// <summary>Hands one received datagram to the channel. Returns false when it was dropped: a repeat, a queue
    /// overflow, or a closed channel. Never throws for anything the peer sent.</summary>
    public bool Deliver(ReadOnlyMemory<byte> datagram)
    {
        if (_closed.IsCancellationRequested)
        {
            return false;
        }
        // The decoded message refers to its buffer, and the caller may reuse the datagram's.
        byte[] copy = datagram.ToArray();
        if (!CoapMessage.TryDecode(copy, out CoapMessage? message, out CoapDecodeError decodeError))
        {
            return _incoming.Writer.TryWrite(new CoapReceiveResult(null, CoapChannelError.MalformedCoap, decodeError));
        }

        if (message.Type is CoapMessageType.Acknowledgement or CoapMessageType.Reset)
        {
            Outstanding? acknowledged;
            lock (_gate)
            {
                _outstanding.Remove(message.MessageId, out acknowledged);
            }
            if (acknowledged is null)
            {
                return false; // A late or repeated ACK for something already settled.
            }
            acknowledged.Settle(message);
            return _incoming.Writer.TryWrite(new CoapReceiveResult(message, CoapChannelError.None, CoapDecodeError.None));
        }

        byte[]? replay = null;
        lock (_gate)
        {
            ForgetExpired();
            foreach (ReceivedExchange seen in _recent)
            {
                if (seen.MessageId == message.MessageId && seen.Type == message.Type)
                {
                    replay = seen.Reply ?? [];
                    break;
                }
            }
            if (replay is null)
            {
                if (!_incoming.Writer.TryWrite(new CoapReceiveResult(message, CoapChannelError.None, CoapDecodeError.None)))
                {
                    // Not remembered either, so the peer's retransmission gets a second chance.
                    return false;
                }
                if (_recent.Count >= _options.DeduplicationCapacity)
                {
                    _recent.Dequeue();
                }
                _recent.Enqueue(new ReceivedExchange(message.MessageId, message.Type, _time.GetUtcNow()));
                return true;
            }
        }

        if (replay.Length > 0 && message.Type == CoapMessageType.Confirmable)
        {
            _ = SendQuietlyAsync(replay);
        }
        return false;
    }

    public async ValueTask<CoapReceiveResult> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            return await _incoming.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            return new CoapReceiveResult(null, _fault == CoapChannelError.None ? CoapChannelError.EndOfStream : _fault, CoapDecodeError.None);
        }
    }

    /// <summary>Sends a message; a CON is then retransmitted in the background until acknowledged.</summary>
    public async ValueTask SendAsync(CoapMessage message, CancellationToken cancellationToken = default) =>
        await SendCoreAsync(message, cancellationToken).ConfigureAwait(false);

    /// <summary>Sends a CON and waits for the peer's ACK or RST (which the reader also sees).</summary>
    /// <exception cref="IOException">The peer never acknowledged it, or the channel closed first.</exception>
    public async Task<CoapMessage> SendConfirmableAsync(CoapMessage message, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Type != CoapMessageType.Confirmable)
        {
            throw new ArgumentException("Only a confirmable message is acknowledged.", nameof(message));
        }
        Outstanding? outstanding = await SendCoreAsync(message, cancellationToken).ConfigureAwait(false);
        return await outstanding!.Acknowledgement.Task.WaitAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new IOException("The peer did not acknowledge the message.");
    }

    private async ValueTask<Outstanding?> SendCoreAsync(CoapMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        int length = message.GetEncodedLength();
        if (length > _options.MaxMessageLength)
        {
            throw new ArgumentException($"The message is {length} bytes; the peer accepts at most {_options.MaxMessageLength}.", nameof(message));
        }
        if (_closed.IsCancellationRequested)
        {
            throw new IOException("The channel is closed.");
        }
        var bytes = new byte[length];
        message.TryEncode(bytes, out _);
        Outstanding? outstanding = null;
        lock (_gate)
        {
            if (message.Type is CoapMessageType.Acknowledgement or CoapMessageType.Reset)
            {
                RememberReply(message.MessageId, bytes);
            }
            else if (message.Type == CoapMessageType.Confirmable)
            {
                outstanding = new Outstanding(message.MessageId, bytes);
                _outstanding[message.MessageId] = outstanding;
            }
        }
        await _send(bytes, cancellationToken).ConfigureAwait(false);
        if (outstanding is not null)
        {
            _ = RetransmitAsync(outstanding);
        }
        return outstanding;
    }

    private void RememberReply(ushort messageId, byte[] reply)
    {
        foreach (ReceivedExchange seen in _recent)
        {
            if (seen.MessageId == messageId && seen.Type == CoapMessageType.Confirmable)
            {
                seen.Reply = reply;
                return;
            }
        }
    }

    private void ForgetExpired()
    {
        DateTimeOffset oldest = _time.GetUtcNow() - _options.DeduplicationLifetime;
        while (_recent.TryPeek(out ReceivedExchange? first) && first.ReceivedAt < oldest)
        {
            _recent.Dequeue();
        }
    }

    private async Task RetransmitAsync(Outstanding outstanding)
    {
        double jitter = 1 + (Random.Shared.NextDouble() * (_options.AckRandomFactor - 1));
        TimeSpan wait = _options.AckTimeout * jitter;
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token, outstanding.Acknowledged);
        try
        {
            for (int attempt = 0; attempt <= _options.MaxRetransmit; attempt++)
            {
                await Task.Delay(wait, _time, stop.Token).ConfigureAwait(false);
                if (attempt == _options.MaxRetransmit)
                {
                    break;
                }
                await _send(outstanding.Bytes, stop.Token).ConfigureAwait(false);
                wait *= 2;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
            return;
        }
        bool unanswered;
        lock (_gate)
        {
            unanswered = _outstanding.Remove(outstanding.MessageId);
        }
        if (unanswered)
        {
            outstanding.Settle(null);
            Close(CoapChannelError.PeerUnreachable);
        }
    }

    private async Task SendQuietlyAsync(byte[] datagram)
    {
        try
        {
            await _send(datagram, _closed.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Ends the channel: the reader sees <paramref name="reason"/> once the queued messages are read, and
    /// retransmissions stop.</summary>
    public void Close(CoapChannelError reason = CoapChannelError.EndOfStream)
    {
        lock (_gate)
        {
            if (_closed.IsCancellationRequested)
            {
                return;
            }
            _fault = reason;
            _closed.Cancel();
            foreach (Outstanding outstanding in _outstanding.Values)
            {
                outstanding.Settle(null);
            }
            _outstanding.Clear();
        }
        _incoming.Writer.TryComplete();
    }

    public ValueTask DisposeAsync()
    {
        Close();
        return ValueTask.CompletedTask;
    }

    private sealed class Outstanding(ushort messageId, byte[] bytes)
    {
        private readonly CancellationTokenSource _acknowledged = new();

        public ushort MessageId { get; } = messageId;

        public byte[] Bytes { get; } = bytes;

        public CancellationToken Acknowledged => _acknowledged.Token;

        /// <summary>The ACK or RST; null when the peer never answered or the channel closed.</summary>
        public TaskCompletionSource<CoapMessage?> Acknowledgement { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Settle(CoapMessage? answer)
        {
            Acknowledgement.TrySetResult(answer);
            _acknowledged.Cancel();
        }
    }

    private sealed class ReceivedExchange(ushort messageId, CoapMessageType type, DateTimeOffset receivedAt)
    {
        public ushort MessageId { get; } = messageId;

        public CoapMessageType Type { get; } = type;

        public DateTimeOffset ReceivedAt { get; } = receivedAt;

        /// <summary>The ACK or RST sent for it, replayed when the peer repeats the CON.</summary>
        public byte[]? Reply { get; set; }
    }
}
