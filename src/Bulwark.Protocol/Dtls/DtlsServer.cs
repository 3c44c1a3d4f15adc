using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;

namespace Bulwark.Protocol.Dtls;

public sealed class DtlsServerOptions
{
    public IPEndPoint EndPoint { get; set; } = new(IPAddress.Loopback, 5684);

    /// <summary>Largest datagram we send; Device OS accepts about 1.1 kB frames.</summary>
    public int Mtu { get; set; } = 1200;

    /// <summary>First retransmission of a flight; doubles up to <see cref="MaxRetransmitTimeout"/> (RFC 6347 4.2.4.1).</summary>
    public TimeSpan InitialRetransmitTimeout { get; set; } = TimeSpan.FromSeconds(1);

    public TimeSpan MaxRetransmitTimeout { get; set; } = TimeSpan.FromSeconds(8);

    /// <summary>A handshake not finished by then is dropped with its state.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>A session with no traffic for this long is forgotten; the device then needs a full handshake.</summary>
    public TimeSpan SessionIdleTimeout { get; set; } = TimeSpan.FromHours(24);

    public TimeSpan TimerInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    public TimeSpan CookieRotation { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Cap on half-open handshakes (cookie-verified, so each costs a real round trip from a real address).</summary>
    public int MaxPendingHandshakes { get; set; } = 20_000;
}

/// <summary>
/// The DTLS 1.2 server for Device OS on one UDP socket: stateless cookie exchange, handshakes with retransmission,
/// sessions kept by CID across address changes, expiry, and application data (CoAP datagrams) both ways.
/// </summary>
public sealed class DtlsServer : IAsyncDisposable
{
    private const int CidLength = 8;

    private readonly DtlsHashSigner _serverKey;
    private const int MaxFutureRecords = 8;

    private readonly DtlsDeviceKeyLookup? _lookup;
    private readonly DtlsAsyncDeviceKeyLookup? _asyncLookup;
    private readonly DtlsServerOptions _options;
    private readonly TimeProvider _time;
    private readonly DtlsCookie _cookie;
    private readonly Lock _tables = new();
    private readonly Dictionary<ulong, DtlsSession> _byCid = [];
    private readonly Dictionary<IPEndPoint, DtlsSession> _byEndPoint = [];
    private int _pendingHandshakes;
    private readonly CancellationTokenSource _stop = new();
    private Socket? _socket;
    private Task _receiveLoop = Task.CompletedTask;
    private Task _timerLoop = Task.CompletedTask;

    public DtlsServer(ECDsa serverKey, DtlsDeviceKeyLookup lookup, DtlsServerOptions options, TimeProvider? time = null)
        : this(DtlsHashSigner.For(serverKey), lookup, null, options, time)
    {
    }

    /// <summary>A server that looks device keys up asynchronously (a database); handshakes pause for it.</summary>
    public DtlsServer(ECDsa serverKey, DtlsAsyncDeviceKeyLookup lookup, DtlsServerOptions options, TimeProvider? time = null)
        : this(DtlsHashSigner.For(serverKey), null, lookup, options, time)
    {
    }

    /// <summary>The same, signing through a key store that does not hand out its private key.</summary>
    public DtlsServer(DtlsHashSigner serverKey, DtlsAsyncDeviceKeyLookup lookup, DtlsServerOptions options, TimeProvider? time = null)
        : this(serverKey, null, lookup, options, time)
    {
    }

    private DtlsServer(DtlsHashSigner serverKey, DtlsDeviceKeyLookup? lookup, DtlsAsyncDeviceKeyLookup? asyncLookup, DtlsServerOptions options, TimeProvider? time)
    {
        _serverKey = serverKey;
        _lookup = lookup;
        _asyncLookup = asyncLookup;
        _options = options;
        _time = time ?? TimeProvider.System;
        _cookie = new DtlsCookie(_time, options.CookieRotation);
    }

    /// <summary>A decrypted application record (a CoAP datagram) from an established session.</summary>
    public Func<DtlsSession, ReadOnlyMemory<byte>, ValueTask>? OnApplicationData { get; set; }

    /// <summary>Called once when a session's handshake completes.</summary>
    public Action<DtlsSession>? OnSessionEstablished { get; set; }

    /// <summary>Called when a session expires or is removed.</summary>
    public Action<DtlsSession>? OnSessionClosed { get; set; }

    public IPEndPoint LocalEndPoint => (IPEndPoint)(_socket?.LocalEndPoint ?? throw new InvalidOperationException("Not started."));

    /// <summary>Sessions in any state (handshaking or established).</summary>
    public int SessionCount
    {
        get
        {
            lock (_tables)
            {
                return _byCid.Count;
            }
        }
    }

    /// <summary>Entries in the address table (handshakes in progress and established sessions' last addresses).</summary>
    public int EndPointCount
    {
        get
        {
            lock (_tables)
            {
                return _byEndPoint.Count;
            }
        }
    }

    public int PendingHandshakeCount
    {
        get
        {
            lock (_tables)
            {
                return _pendingHandshakes;
            }
        }
    }

    public void Start()
    {
        _socket = new Socket(_options.EndPoint.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        _socket.Bind(_options.EndPoint);
        _receiveLoop = Task.Run(ReceiveLoopAsync);
        _timerLoop = Task.Run(TimerLoopAsync);
    }

    /// <summary>Sends one application record (a CoAP datagram) to an established session's current address.</summary>
    public async ValueTask SendAsync(DtlsSession session, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken = default)
    {
        byte[] record;
        IPEndPoint remote;
        lock (session.Gate)
        {
            if (!session.IsEstablished)
            {
                throw new InvalidOperationException("The session has not completed its handshake.");
            }

            record = session.Layer.Encode(DtlsContentType.ApplicationData, 1, payload.Span);
            remote = session.RemoteEndPoint;
        }

        await _socket!.SendToAsync(record, SocketFlags.None, remote, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets a session (e.g. after KeyChange): its CID stops working and the device must handshake again.</summary>
    public void Remove(DtlsSession session)
    {
        lock (_tables)
        {
            if (!_byCid.Remove(session.CidKey))
            {
                return;
            }

            if (!session.IsEstablished)
            {
                _pendingHandshakes--;
            }

            if (_byEndPoint.TryGetValue(session.RemoteEndPoint, out DtlsSession? mapped) && mapped == session)
            {
                _byEndPoint.Remove(session.RemoteEndPoint);
            }
        }

        lock (session.Gate)
        {
            session.Handshake?.Dispose();
            session.Handshake = null;
            session.Layer.Dispose();
        }

        OnSessionClosed?.Invoke(session);
    }

    public DtlsSession? FindSession(ReadOnlySpan<byte> connectionId)
    {
        if (connectionId.Length != CidLength)
        {
            return null;
        }

        lock (_tables)
        {
            return _byCid.GetValueOrDefault(BitConverter.ToUInt64(connectionId));
        }
    }

    /// <summary>
    /// Handles one datagram: returns the datagrams to send back and the application records to deliver. Never throws
    /// for hostile input; this is the whole server minus the socket, so tests and the fuzzer can drive it directly.
    /// </summary>
    public DtlsDatagramResult ProcessDatagram(ReadOnlyMemory<byte> datagram, IPEndPoint from)
    {
        var result = new DtlsDatagramResult();
        DateTimeOffset now = _time.GetUtcNow();
        foreach (DtlsRecord record in DtlsRecord.ParseDatagram(datagram, CidLength))
        {
            if (record.HasCid)
            {
                HandleCidRecord(record, from, now, result);
            }
            else
            {
                HandlePlainRecord(record, from, now, result);
            }
        }

        return result;
    }

    private void HandleCidRecord(DtlsRecord record, IPEndPoint from, DateTimeOffset now, DtlsDatagramResult result)
    {
        DtlsSession? session = FindSession(record.Cid.Span);
        if (session is not null)
        {
            HandleSessionRecord(session, record, from, now, result);
        }
    }

    private void HandlePlainRecord(DtlsRecord record, IPEndPoint from, DateTimeOffset now, DtlsDatagramResult result)
    {
        DtlsSession? session;
        lock (_tables)
        {
            session = _byEndPoint.GetValueOrDefault(from);
        }

        if (record.Epoch == 0 && record.Type == DtlsContentType.Handshake && TryReadClientHello(record, out DtlsHandshakeMessage? message, out DtlsClientHello? hello))
        {
            // A ClientHello for the handshake in progress is a retransmission; anything else starts over statelessly.
            if (session is not null && !session.IsEstablished && session.ClientRandom.AsSpan().SequenceEqual(hello.Random))
            {
                HandleSessionRecord(session, record, from, now, result);
                return;
            }

            HandleClientHello(record, message, hello, from, now, result);
            return;
        }

        if (session is not null)
        {
            HandleSessionRecord(session, record, from, now, result);
        }
    }

    private static bool TryReadClientHello(DtlsRecord record, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DtlsHandshakeMessage? message, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DtlsClientHello? hello)
    {
        message = null;
        hello = null;
        // Only a whole, unfragmented ClientHello is looked at before the cookie: nothing is buffered for strangers.
        if (!DtlsHandshakeFragment.TryParse(record.Fragment, out DtlsHandshakeFragment? fragment, out _) || fragment.Type != DtlsHandshakeType.ClientHello
            || fragment.FragmentOffset != 0 || fragment.Bytes.Length != fragment.Length || !DtlsClientHello.TryParse(fragment.Bytes.Span, out hello))
        {
            return false;
        }

        message = new DtlsHandshakeMessage(fragment.Type, fragment.MessageSeq, fragment.Bytes.ToArray());
        return true;
    }

    private void HandleClientHello(DtlsRecord record, DtlsHandshakeMessage message, DtlsClientHello hello, IPEndPoint from, DateTimeOffset now, DtlsDatagramResult result)
    {
        if (!DtlsServerHandshake.IsAcceptable(hello))
        {
            return;
        }

        if (!_cookie.IsValid(from, hello))
        {
            // Stateless: the reply is computed from the datagram alone and nothing is remembered.
            byte[] body = new DtlsHelloVerifyRequest(_cookie.Create(from, hello)).ToArray();
            byte[] fragment = new DtlsHandshakeFragment(DtlsHandshakeType.HelloVerifyRequest, body.Length, message.MessageSeq, 0, body).ToArray();
            var verify = new byte[DtlsRecord.HeaderLength + fragment.Length];
            // RFC 6347 4.2.1: the HelloVerifyRequest reuses the ClientHello's record sequence number.
            DtlsRecord.WriteHeader(verify, DtlsContentType.Handshake, 0, record.Sequence, [], fragment.Length);
            fragment.CopyTo(verify, DtlsRecord.HeaderLength);
            result.Replies.Add(new DtlsOutgoingDatagram(verify, from));
            return;
        }

        DtlsSession session;
        lock (_tables)
        {
            if (_pendingHandshakes >= _options.MaxPendingHandshakes)
            {
                return;
            }

            byte[] cid;
            do
            {
                cid = RandomNumberGenerator.GetBytes(CidLength);
            }
            while (_byCid.ContainsKey(BitConverter.ToUInt64(cid)));

            session = new DtlsSession(cid, from, now) { ClientRandom = hello.Random };
            if (_byEndPoint.Remove(from, out DtlsSession? previous) && !previous.IsEstablished && _byCid.Remove(previous.CidKey))
            {
                _pendingHandshakes--;
            }

            _byCid[session.CidKey] = session;
            _pendingHandshakes++;
            _byEndPoint[from] = session;
        }

        lock (session.Gate)
        {
            session.Layer.ReplayWindow(0).Accept(record.Sequence);
            // Our records continue from the ClientHello's sequence number, as mbedtls's server does: the HelloVerifyRequest
            // reused the first ClientHello's number, so starting at 0 would repeat it and the device's replay window would
            // drop our ServerHello, leaving the handshake to wait for our retransmission timer.
            session.Layer.RestoreWriteSequence(record.Sequence, epoch: 0);
            session.Handshake = new DtlsServerHandshake(_serverKey, _lookup, session.Layer, session.ConnectionId);
            session.Handshake.Start(message, hello);
            session.RetransmitTimeout = _options.InitialRetransmitTimeout;
            session.NextRetransmit = now + session.RetransmitTimeout;
            AddFlight(session, result);
        }
    }

    private void HandleSessionRecord(DtlsSession session, DtlsRecord record, IPEndPoint from, DateTimeOffset now, DtlsDatagramResult result)
    {
        var outcome = new StepOutcome();
        lock (session.Gate)
        {
            // The device's Finished (epoch 1) can arrive before we can read epoch 1 (reordering, or a key lookup still
            // running); keep a few rather than wait for the device's 3 s retransmission timer.
            if (record.Epoch == 1 && !session.Layer.HasReadKeys && session.Handshake is { IsComplete: false })
            {
                if (session.FutureRecords.Count < MaxFutureRecords)
                {
                    session.FutureRecords.Add((record, from));
                }

                return;
            }

            DecodeAndDispatch(session, record, from, now, result, outcome);
            ReplayFutureRecords(session, now, result, outcome);
        }

        Finish(session, outcome);
    }

    private void DecodeAndDispatch(DtlsSession session, DtlsRecord record, IPEndPoint from, DateTimeOffset now, DtlsDatagramResult result, StepOutcome outcome)
    {
        if (!session.Layer.TryDecode(record, out DtlsContentType type, out ReadOnlyMemory<byte> content))
        {
            return;
        }

        session.LastActivity = now;
        if (!session.RemoteEndPoint.Equals(from) && record.Epoch > 0)
        {
            // Only an authenticated record may move a session (a spoofed CID record cannot redirect it).
            MoveSession(session, from);
        }

        switch (type)
        {
            case DtlsContentType.ApplicationData when session.IsEstablished:
                if (session.Handshake is not null)
                {
                    // The device got our Finished (it sends data under the new keys); the flight is no longer needed.
                    session.Handshake.Dispose();
                    session.Handshake = null;
                }

                result.ApplicationData.Add((session, content));
                break;
            case DtlsContentType.Handshake or DtlsContentType.ChangeCipherSpec when session.Handshake is not null:
                bool wasComplete = session.Handshake.IsComplete;
                AfterHandshakeStep(session, session.Handshake.Handle(type, content), wasComplete, result, outcome);
                break;
            case DtlsContentType.Alert:
                // A fatal alert (level 2) ends the association; warnings (close_notify included) are ignored.
                outcome.Failed |= content.Length == 2 && content.Span[0] == 2;
                break;
        }
    }

    private void AfterHandshakeStep(DtlsSession session, bool send, bool wasComplete, DtlsDatagramResult result, StepOutcome outcome)
    {
        DtlsServerHandshake handshake = session.Handshake!;
        if (handshake.Failure != DtlsHandshakeFailure.None)
        {
            outcome.Failed = true;
            return;
        }

        if (send)
        {
            AddFlight(session, result);
        }

        if (handshake.PendingKeyLookup is { } spki && !session.LookupStarted)
        {
            session.LookupStarted = true;
            result.KeyLookups.Add((session, spki));
        }

        if (!wasComplete && handshake.IsComplete)
        {
            lock (_tables)
            {
                if (_byCid.ContainsKey(session.CidKey))
                {
                    _pendingHandshakes--;
                }

                session.IsEstablished = true;
            }

            session.RegisteredKey = handshake.RegisteredKey;
            outcome.Established = true;
        }
    }

    private void ReplayFutureRecords(DtlsSession session, DateTimeOffset now, DtlsDatagramResult result, StepOutcome outcome)
    {
        if (session.FutureRecords.Count == 0 || !session.Layer.HasReadKeys)
        {
            return;
        }

        (DtlsRecord Record, IPEndPoint From)[] buffered = [.. session.FutureRecords];
        session.FutureRecords.Clear();
        foreach ((DtlsRecord record, IPEndPoint from) in buffered)
        {
            DecodeAndDispatch(session, record, from, now, result, outcome);
        }
    }

    private void Finish(DtlsSession session, StepOutcome outcome)
    {
        if (outcome.Failed)
        {
            Remove(session);
        }
        else if (outcome.Established)
        {
            OnSessionEstablished?.Invoke(session);
        }
    }

    /// <summary>Runs an asynchronous key lookup a handshake paused for, then lets the handshake continue.</summary>
    public async Task<DtlsDatagramResult> CompleteKeyLookupAsync(DtlsSession session, byte[] spki, CancellationToken cancellationToken)
    {
        DtlsRegisteredKey? key = null;
        if (_asyncLookup is not null)
        {
            key = await _asyncLookup(spki, cancellationToken).ConfigureAwait(false);
        }

        var result = new DtlsDatagramResult();
        var outcome = new StepOutcome();
        lock (session.Gate)
        {
            if (session.Handshake?.PendingKeyLookup is null)
            {
                return result;
            }

            AfterHandshakeStep(session, session.Handshake.ResumeAfterLookup(key), wasComplete: false, result, outcome);
            if (!outcome.Failed)
            {
                ReplayFutureRecords(session, _time.GetUtcNow(), result, outcome);
            }
        }

        Finish(session, outcome);
        return result;
    }

    private sealed class StepOutcome
    {
        public bool Failed { get; set; }

        public bool Established { get; set; }
    }

    private void MoveSession(DtlsSession session, IPEndPoint to)
    {
        lock (_tables)
        {
            if (_byEndPoint.TryGetValue(session.RemoteEndPoint, out DtlsSession? mapped) && mapped == session)
            {
                _byEndPoint.Remove(session.RemoteEndPoint);
            }

            _byEndPoint[to] = session;
        }

        session.RemoteEndPoint = to;
    }

    private void AddFlight(DtlsSession session, DtlsDatagramResult result)
    {
        foreach (byte[] datagram in session.Layer.Pack(session.Handshake!.LastFlight, _options.Mtu))
        {
            result.Replies.Add(new DtlsOutgoingDatagram(datagram, session.RemoteEndPoint));
        }
    }

    /// <summary>Retransmits flights whose timer fired, drops stale handshakes and idle sessions.</summary>
    public List<DtlsOutgoingDatagram> OnTimer()
    {
        DateTimeOffset now = _time.GetUtcNow();
        var replies = new List<DtlsOutgoingDatagram>();
        var expired = new List<DtlsSession>();
        DtlsSession[] sessions;
        lock (_tables)
        {
            sessions = [.. _byCid.Values];
        }

        foreach (DtlsSession session in sessions)
        {
            lock (session.Gate)
            {
                if (!session.IsEstablished && now - session.CreatedAt > _options.HandshakeTimeout
                    || session.IsEstablished && now - session.LastActivity > _options.SessionIdleTimeout)
                {
                    expired.Add(session);
                    continue;
                }

                // The server retransmits only while it waits for the device's flight; after its Finished it answers
                // a retransmitted client flight instead (RFC 6347 4.2.4).
                if (session.Handshake is { IsComplete: false } && now >= session.NextRetransmit)
                {
                    var result = new DtlsDatagramResult();
                    AddFlight(session, result);
                    replies.AddRange(result.Replies);
                    session.RetransmitTimeout = TimeSpan.FromTicks(Math.Min(session.RetransmitTimeout.Ticks * 2, _options.MaxRetransmitTimeout.Ticks));
                    session.NextRetransmit = now + session.RetransmitTimeout;
                }
            }
        }

        foreach (DtlsSession session in expired)
        {
            Remove(session);
        }

        return replies;
    }

    private async Task ReceiveLoopAsync()
    {
        var buffer = new byte[65536];
        EndPoint any = new IPEndPoint(_options.EndPoint.AddressFamily == AddressFamily.InterNetworkV6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
        while (!_stop.IsCancellationRequested)
        {
            SocketReceiveFromResult received;
            try
            {
                received = await _socket!.ReceiveFromAsync(buffer, SocketFlags.None, any, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                break;
            }
            catch (SocketException)
            {
                // ICMP port unreachable from a vanished client surfaces here on some platforms; keep serving.
                continue;
            }
            catch (ObjectDisposedException)
            {
                break;
            }

            var from = (IPEndPoint)received.RemoteEndPoint;
            DtlsDatagramResult result;
            try
            {
                result = ProcessDatagram(buffer.AsSpan(0, received.ReceivedBytes).ToArray(), from);
            }
            catch (Exception ex) when (ex is CryptographicException or ArgumentException or InvalidOperationException or PlatformNotSupportedException)
            {
                // The parsers are fuzzed not to throw; this is the last line so one datagram never stops the listener.
                continue;
            }

            await SendAllAsync(result.Replies).ConfigureAwait(false);
            foreach ((DtlsSession session, byte[] spki) in result.KeyLookups)
            {
                _ = Task.Run(() => RunKeyLookupAsync(session, spki));
            }

            if (OnApplicationData is { } onData)
            {
                foreach ((DtlsSession session, ReadOnlyMemory<byte> payload) in result.ApplicationData)
                {
                    await onData(session, payload).ConfigureAwait(false);
                }
            }
        }
    }

    private async Task RunKeyLookupAsync(DtlsSession session, byte[] spki)
    {
        try
        {
            DtlsDatagramResult result = await CompleteKeyLookupAsync(session, spki, _stop.Token).ConfigureAwait(false);
            await SendAllAsync(result.Replies).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OutOfMemoryException)
        {
            // A failed lookup (database down, shutdown) refuses this device; the listener carries on.
            Remove(session);
        }
    }

    private async Task TimerLoopAsync()
    {
        using var timer = new PeriodicTimer(_options.TimerInterval, _time);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token).ConfigureAwait(false))
            {
                await SendAllAsync(OnTimer()).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task SendAllAsync(List<DtlsOutgoingDatagram> datagrams)
    {
        foreach (DtlsOutgoingDatagram datagram in datagrams)
        {
            try
            {
                await _socket!.SendToAsync(datagram.Bytes, SocketFlags.None, datagram.To, _stop.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is SocketException or OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _socket?.Dispose();
        await Task.WhenAll(_receiveLoop, _timerLoop).ConfigureAwait(false);
        DtlsSession[] sessions;
        lock (_tables)
        {
            sessions = [.. _byCid.Values];
        }

        foreach (DtlsSession session in sessions)
        {
            Remove(session);
        }

        _stop.Dispose();
    }
}

/// <summary>Finds the registered key for a presented SPKI without blocking the listener; null refuses the handshake.</summary>
public delegate ValueTask<DtlsRegisteredKey?> DtlsAsyncDeviceKeyLookup(byte[] presentedSpki, CancellationToken cancellationToken);

public sealed record DtlsOutgoingDatagram(byte[] Bytes, IPEndPoint To);

/// <summary>What one incoming datagram produced.</summary>
public sealed class DtlsDatagramResult
{
    public List<DtlsOutgoingDatagram> Replies { get; } = [];

    public List<(DtlsSession Session, ReadOnlyMemory<byte> Payload)> ApplicationData { get; } = [];

    /// <summary>Handshakes paused for an asynchronous key lookup; pass each to <see cref="DtlsServer.CompleteKeyLookupAsync"/>.</summary>
    public List<(DtlsSession Session, byte[] Spki)> KeyLookups { get; } = [];
}
