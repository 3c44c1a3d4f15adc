using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading.Channels;
using Bulwark.DeviceSim.Describe;
using Bulwark.DeviceSim.Ota;
using Bulwark.Firmware;
using Bulwark.Protocol;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Devices;

/// <summary>Where a <see cref="VirtualDevice"/> is in its connection life.</summary>
public enum VirtualDeviceState
{
    Disconnected,
    Connecting,
    Connected,
}

/// <summary>
/// A virtual device that speaks the Gen2 TCP protocol or the Gen3 UDP/DTLS one as Device OS 6.x does
/// (device-protocol.md sections 1, 2 and 7): handshake, Hello, Describe, time, ping, events, subscriptions, functions,
/// variables, signal, KeyChange, Goodbye and OTA; over UDP also saved sessions resumed without a handshake.
/// </summary>
/// <remarks>
/// Both transports run the same session code over an <see cref="ICoapChannel"/>; where the protocol differs on UDP
/// (confirmable requests, ACK instead of a server Hello, device ID in Hello) the session asks
/// <see cref="ICoapChannel.IsDatagram"/>. One receive loop per connection answers the cloud in wire order; function and variable callbacks run on it, so keep
/// them quick. Public methods are thread-safe. Things the cloud sends surface as <see cref="DeviceNotification"/>s, both
/// through <see cref="Notified"/> and the bounded <see cref="Notifications"/> channel.
/// </remarks>
public sealed partial class VirtualDevice : IAsyncDisposable
{
    /// <summary>Device OS limits function, variable and event names to 64 characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>Content-Format 42 (application/octet-stream) marks the protobuf system Describe.</summary>
    public const ushort ProtobufContentFormat = 42;

    // CLOUD_DISCONNECT_REASON_USER in Device OS: the application asked to disconnect.
    private const uint CloudDisconnectReasonUser = 2;

    private static readonly TimeSpan GoodbyeGrace = TimeSpan.FromSeconds(2);

    private readonly DeviceIdentity _identity;
    private readonly ServerPublicKey? _serverKey;
    private readonly string _host;
    private readonly int _port;
    private readonly VirtualDeviceOptions _options;
    private readonly TimeProvider _time;
    private readonly Lock _gate = new();
    private readonly OrderedDictionary<string, Func<string, int>> _functions = new(StringComparer.Ordinal);
    private readonly OrderedDictionary<string, CloudVariable> _variables = new(StringComparer.Ordinal);
    private readonly List<string> _subscriptions = [];
    private readonly Channel<DeviceNotification>? _notifications;
    private readonly FirmwareUpdateReceiver _ota;
    private readonly CancellationTokenSource _lifetime = new();
    private ushort _productId;
    private ushort _productFirmwareVersion;
    private ushort _bootloaderVersion;
    private ushort _systemVersion;
    private ushort _userModuleVersion;
    private ReadOnlyMemory<byte> _userModuleHash;
    private Session? _session;
    private Gen3SavedSession? _savedSession;
    private ECDsa? _serverEcKey;
    private VirtualDeviceState _state;
    private int _tokenCounter;
    private long _eventsPublished;
    private bool _disposed;
    private readonly Protection.LocalControlServer? _localControl;

    /// <param name="serverKey">The server's RSA key for TCP; may be null for a UDP device, which uses
    /// <see cref="VirtualDeviceOptions.ServerEcPublicKey"/> instead.</param>
    public VirtualDevice(DeviceIdentity identity, ServerPublicKey? serverKey, string host, int port, VirtualDeviceOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(identity);
        ArgumentException.ThrowIfNullOrEmpty(host);
        ArgumentOutOfRangeException.ThrowIfLessThan(port, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(port, 65535);
        _options = options ?? new VirtualDeviceOptions();
        if (_options.Transport == DeviceTransport.Udp)
        {
            if (_options.ServerEcPublicKey.IsEmpty)
            {
                throw new ArgumentException("A UDP device needs the server's EC public key (VirtualDeviceOptions.ServerEcPublicKey).", nameof(options));
            }

            if (!identity.HasEcKey)
            {
                throw new ArgumentException($"Device {identity.Id} has no EC P-256 key, which the UDP protocol needs.", nameof(identity));
            }

            // Gen3 Device OS builds carry OTA v3 only, and say so in Hello (flag 0x80).
            _options = _options with { OtaProtocolV3 = true };
        }
        else
        {
            ArgumentNullException.ThrowIfNull(serverKey);
        }

        _identity = identity;
        _serverKey = serverKey;
        _host = host;
        _port = port;
        _time = _options.TimeProvider;
        _productId = _options.ProductId ?? _options.PlatformId;
        _productFirmwareVersion = _options.ProductFirmwareVersion;
        _bootloaderVersion = _options.BootloaderVersion;
        _systemVersion = _options.SystemVersion;
        _userModuleVersion = _options.UserModuleVersion;
        _ota = new FirmwareUpdateReceiver(_options.MaxBinarySize, _options.OtaChunkSize);
        if (_options.NotificationCapacity > 0)
        {
            _notifications = Channel.CreateBounded<DeviceNotification>(new BoundedChannelOptions(_options.NotificationCapacity)
            {
                FullMode = BoundedChannelFullMode.DropOldest,
                SingleReader = false,
                SingleWriter = false,
            });
        }
        if (_options.LocalControlPort is { } localControlPort)
        {
            _localControl = Protection.LocalControlServer.Start((type, payload) => HandleLocalControlRequest(type, payload), localControlPort);
        }
    }

    /// <summary>Where the local control channel listens (<see cref="VirtualDeviceOptions.LocalControlPort"/>); null without one.</summary>
    public System.Net.IPEndPoint? LocalControlEndPoint => _localControl?.EndPoint;

    public DeviceId Id => _identity.Id;

    public DeviceIdentity Identity => _identity;

    public VirtualDeviceState State
    {
        get
        {
            lock (_gate)
            {
                return _state;
            }
        }
    }

    public bool IsConnected => State == VirtualDeviceState.Connected;

    /// <summary>The product ID the next Hello carries (an OTA'd product firmware can change it).</summary>
    public ushort ProductId => _productId;

    public ushort ProductFirmwareVersion => _productFirmwareVersion;

    public ushort SystemVersion => _systemVersion;

    /// <summary>The Hello this device sends on its next connection.</summary>
    public HelloPayload Hello
    {
        get
        {
            HelloPayload hello = _options.CreateHello(_productFirmwareVersion, _systemVersion);
            return hello with
            {
                ProductId = _productId,
                // Over UDP the cloud learns which device a Hello is from only from the Hello itself, and Gen3 builds
                // announce OTA v3 (device-protocol.md 1.4).
                DeviceId = IsUdp ? _identity.Id : null,
                Flags = IsUdp ? hello.Flags | HelloFlags.OtaProtocolV3 : hello.Flags,
            };
        }
    }

    /// <summary>The saved Gen3 session the next <see cref="ConnectAsync"/> resumes; null before the first UDP connection,
    /// after a KeyChange that discards it, or when <see cref="VirtualDeviceOptions.ResumeSessions"/> is off.</summary>
    public Gen3SavedSession? SavedSession
    {
        get
        {
            lock (_gate)
            {
                return _savedSession;
            }
        }
    }

    /// <summary>UDP only: the local endpoint of the current connection (a new port on every connection).</summary>
    public System.Net.IPEndPoint? LocalEndPoint
    {
        get
        {
            lock (_gate)
            {
                return (_session?.Link as Gen3Link)?.LocalEndPoint;
            }
        }
    }

    private bool IsUdp => _options.Transport == DeviceTransport.Udp;

    /// <summary>Forgets the saved Gen3 session, so the next connection runs a full DTLS handshake and Hello.</summary>
    public void DiscardSavedSession()
    {
        lock (_gate)
        {
            _savedSession = null;
        }
    }

    /// <summary>Events published through <see cref="PublishAsync(string, string?, int, bool, CancellationToken)"/> since creation.</summary>
    public long EventsPublished => Interlocked.Read(ref _eventsPublished);

    /// <summary>The OTA v1 receiver; <see cref="FirmwareUpdateReceiver.InProgress"/> tells whether an update is running.</summary>
    public FirmwareUpdateReceiver FirmwareUpdate => _ota;

    /// <summary>Recent notifications, oldest dropped when full; empty and never completing when <see cref="VirtualDeviceOptions.NotificationCapacity"/> is 0.</summary>
    public ChannelReader<DeviceNotification> Notifications => _notifications?.Reader ?? Channel.CreateUnbounded<DeviceNotification>().Reader;

    /// <summary>Raised on the receive loop for each notification. Handlers must be quick; exceptions they throw are ignored.</summary>
    public event Action<VirtualDevice, DeviceNotification>? Notified;

    /// <summary>Registers a cloud function (re-sending the application Describe when connected).</summary>
    public void RegisterFunction(string name, Func<string, int> handler)
    {
        ValidateName(name);
        ArgumentNullException.ThrowIfNull(handler);
        lock (_gate)
        {
            _functions[name] = handler;
        }

        ResendApplicationDescribe();
    }

    public void RegisterVariable(string name, Func<int> getter) => AddVariable(name, CloudVariable.Of(getter ?? throw new ArgumentNullException(nameof(getter))));

    public void RegisterVariable(string name, Func<double> getter) => AddVariable(name, CloudVariable.Of(getter ?? throw new ArgumentNullException(nameof(getter))));

    public void RegisterVariable(string name, Func<string> getter) => AddVariable(name, CloudVariable.Of(getter ?? throw new ArgumentNullException(nameof(getter))));

    public void RegisterVariable(string name, Func<bool> getter) => AddVariable(name, CloudVariable.Of(getter ?? throw new ArgumentNullException(nameof(getter))));

    /// <summary>The modules this device reports: bootloader, system part and user part at its current versions.</summary>
    public SystemDescribe SystemDescribe =>
        SimulatedModules.Create(_bootloaderVersion, _systemVersion, _userModuleVersion, _userModuleHash,
            _options.Protected || _options.Protection?.IsProtected == true);

    /// <summary>A local (USB/BLE) control request, through the Device Protection gate; NOT_SUPPORTED without <see cref="VirtualDeviceOptions.Protection"/>.</summary>
    public Protection.ControlReply HandleLocalControlRequest(int type, ReadOnlySpan<byte> payload) =>
        _options.Protection?.HandleControlRequest(type, payload) ?? new Protection.ControlReply(Protection.SystemError.NotSupported, []);

    /// <summary>The system Describe as sent (protobuf <c>particle.cloud.SystemDescribe</c>).</summary>
    public byte[] GetSystemDescribe() => SystemDescribe.ToArray();

    /// <summary>The application Describe as sent: <c>{"f":[...],"v":{...}}</c>.</summary>
    public byte[] GetApplicationDescribe()
    {
        lock (_gate)
        {
            return ApplicationDescribe.Encode(_functions.Keys, _variables.Select(v => KeyValuePair.Create(v.Key, v.Value.Type)));
        }
    }

    /// <summary>
    /// TCP: opens the connection, runs the handshake, exchanges Hellos and sends the Device OS start-up sequence.
    /// UDP: runs the DTLS handshake, sends a CON Hello and waits for its ACK, then the same start-up sequence; with a
    /// saved session it skips the handshake (new local port), and skips Hello too when its application state is unchanged,
    /// sending only a CoAP ping. A resumed session the server does not answer is dropped for a full handshake.
    /// </summary>
    /// <exception cref="VirtualDeviceException">The server is unreachable, the handshake failed or no server Hello (TCP)
    /// or Hello ACK (UDP) came.</exception>
    public async Task ConnectAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        lock (_gate)
        {
            if (_state != VirtualDeviceState.Disconnected)
            {
                throw new InvalidOperationException($"Device {Id} is already {_state}.");
            }

            _state = VirtualDeviceState.Connecting;
        }

        // Each connection follows a (simulated) reset: Service Mode counts it.
        _options.Protection?.OnReset();

        Session? session = null;
        try
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _lifetime.Token);
            session = await OpenSessionAsync(linked.Token).ConfigureAwait(false);
            // What the cloud learns from this greeting, taken now: a change it is not told of during the session (a firmware
            // update applied before the "reset") must make the next resumption say Hello.
            byte[] greeting = AppStateDigest();
            bool skipHello = session.Link is Gen3Link { ResumedFrom: { } resumed } && resumed.AppStateDigest.Span.SequenceEqual(greeting);
            try
            {
                await GreetAsync(session, skipHello, linked.Token).ConfigureAwait(false);
            }
            catch (IOException e) when (session.Link is Gen3Link { ResumedFrom: not null })
            {
                // Device OS gives a restored session up once the CoAP retransmissions of its first message run out (the
                // server has forgotten it), drops it, and connects again with a full handshake.
                session.TryClose(DisconnectReason.ConnectionClosed, e.Message);
                await session.Ended.Task.ConfigureAwait(false);
                lock (_gate)
                {
                    _savedSession = null;
                    _state = VirtualDeviceState.Connecting;
                }

                session = await OpenSessionAsync(linked.Token).ConfigureAwait(false);
                skipHello = false;
                await GreetAsync(session, skipHello, linked.Token).ConfigureAwait(false);
            }

            lock (_gate)
            {
                _state = VirtualDeviceState.Connected;
                session.WasConnected = true;
                session.CloudStateDigest = greeting;
            }

            if (_options.PingInterval is { } interval)
            {
                session.KeepaliveLoop = Task.Run(() => KeepaliveLoopAsync(session, interval), CancellationToken.None);
            }

            if (skipHello)
            {
                // "resumed session - not sending HELLO message": the cloud kept this device's Describe and subscriptions.
            }
            else if (_options.SendStartupSequence)
            {
                await SendStartupSequenceAsync(session).ConfigureAwait(false);
            }
            else
            {
                await SendSubscriptionsAsync(session, includeSystem: false).ConfigureAwait(false);
            }

            Notify(new DeviceConnected(Hello, session.Link is Gen3Link { ResumedFrom: not null }, skipHello));
        }
        catch (Exception e) when (session is not null)
        {
            session.TryClose(DisconnectReason.ConnectionClosed, e.Message);
            await session.Ended.Task.ConfigureAwait(false);
            ResetStateIfConnecting();
            if (e is IOException or ObjectDisposedException or SocketException)
            {
                throw new VirtualDeviceException(ConnectFailure.ConnectionLost, $"The connection to {_host}:{_port} dropped during set-up: {e.Message}", inner: e);
            }

            throw;
        }
        catch
        {
            ResetStateIfConnecting();
            throw;
        }
    }

    /// <summary>
    /// The first exchange of a session. TCP: NON Hello, then the server's Hello within 4 s. UDP: CON Hello with the device
    /// ID, answered by an ACK (no server Hello); or, for a resumed session with nothing changed, just a CoAP ping.
    /// </summary>
    /// <exception cref="IOException">UDP: the server acknowledged nothing (for a resumed session: it forgot it).</exception>
    private async Task GreetAsync(Session session, bool pingOnly, CancellationToken cancellationToken)
    {
        if (!session.IsDatagram)
        {
            await session.SendAsync(ParticleMessages.DeviceHello(CoapMessageType.NonConfirmable, session.Channel.NextMessageId(), Hello), cancellationToken).ConfigureAwait(false);
            try
            {
                await session.ServerHello.Task.WaitAsync(_options.ServerHelloTimeout, _time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException e)
            {
                throw new VirtualDeviceException(ConnectFailure.NoServerHello, $"The server sent no Hello within {_options.ServerHelloTimeout.TotalSeconds:0.#} s.", inner: e);
            }

            return;
        }

        CoapMessage request = pingOnly
            ? ParticleMessages.Ping(session.Channel.NextMessageId())
            : ParticleMessages.DeviceHello(CoapMessageType.Confirmable, session.Channel.NextMessageId(), Hello);
        CoapMessage ack;
        try
        {
            ack = await session.ConfirmAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (session.Link is Gen3Link { ResumedFrom: null })
        {
            throw new VirtualDeviceException(ConnectFailure.NoServerHello, $"The server did not acknowledge the Hello: {e.Message}", inner: e);
        }

        if (ack.Type == CoapMessageType.Reset || (!ack.Code.IsEmpty && !ack.Code.IsSuccess))
        {
            throw new VirtualDeviceException(ConnectFailure.NoServerHello, $"The server answered the {(pingOnly ? "ping" : "Hello")} with {(ack.Type == CoapMessageType.Reset ? "RST" : ack.Code.ToString())}.");
        }
    }

    /// <summary>
    /// A digest of what the cloud learns from Hello and the start-up sequence: Hello fields, both Describes and the
    /// subscriptions. Device OS keeps CRCs of the same (application_state_checksum) with its saved session and skips
    /// Hello on resumption only when they still match.
    /// </summary>
    private byte[] AppStateDigest()
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(Hello.ToArray());
        hash.AppendData(GetSystemDescribe());
        hash.AppendData(GetApplicationDescribe());
        lock (_gate)
        {
            foreach (string prefix in _subscriptions)
            {
                hash.AppendData(Encoding.UTF8.GetBytes(prefix + "\n"));
            }
        }

        return hash.GetHashAndReset();
    }

    /// <summary>Sends Goodbye (as Device OS does on a requested disconnect), closes the connection and waits for the session to end.</summary>
    public async Task DisconnectAsync(CancellationToken cancellationToken = default)
    {
        Session? session;
        lock (_gate)
        {
            session = _session;
        }

        if (session is null)
        {
            return;
        }

        session.SetReason(DisconnectReason.Requested, null);
        if (session.WasConnected)
        {
            try
            {
                var goodbye = new GoodbyeMessage(CloudDisconnectReasonUser, null, null, null);
                if (session.IsDatagram)
                {
                    // UDP has no FIN: the Goodbye is CON, and its ACK tells the device the cloud has it.
                    await session.ConfirmAsync(ParticleMessages.Goodbye(CoapMessageType.Confirmable, session.Channel.NextMessageId(), goodbye), cancellationToken)
                        .WaitAsync(GoodbyeGrace, _time, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await session.SendAsync(ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, session.Channel.NextMessageId(), goodbye)).ConfigureAwait(false);
                    // Half-close so the Goodbye is delivered before the FIN, then let the server close its side.
                    session.Link.FinishSending();
                    await session.Ended.Task.WaitAsync(GoodbyeGrace, _time, cancellationToken).ConfigureAwait(false);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or TimeoutException or OperationCanceledException)
            {
                // Already gone, or the server did not close in time: close hard below.
            }
        }

        session.TryClose(DisconnectReason.Requested, null);
        await session.Ended.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Publishes an event: POST /E/name (or the legacy public /e/name when <paramref name="isPrivate"/> is false),
    /// NON over TCP; CON over UDP, returning once the cloud acknowledged it.</summary>
    /// <exception cref="CloudRefusedException">UDP: the cloud answered 4.xx or 5.xx (4.00 = slow down) or RST.</exception>
    /// <exception cref="IOException">UDP: the cloud never acknowledged it.</exception>
    public Task PublishAsync(string name, string? data = null, int ttlSeconds = EventMessage.DefaultTtlSeconds, bool isPrivate = true, CancellationToken cancellationToken = default) =>
        PublishAsync(name, Encoding.UTF8.GetBytes(data ?? string.Empty), ttlSeconds, isPrivate, contentFormat: null, cancellationToken);

    /// <summary>Publishes binary or typed data; <paramref name="contentFormat"/> goes in the Content-Format option.</summary>
    public async Task PublishAsync(string name, ReadOnlyMemory<byte> data, int ttlSeconds, bool isPrivate, ushort? contentFormat, CancellationToken cancellationToken = default)
    {
        ValidateName(name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(data.Length, EventMessage.MaxDataLength, nameof(data));
        ArgumentOutOfRangeException.ThrowIfNegative(ttlSeconds);
        Session session = RequireSession();
        CoapMessage message = ParticleMessages.Event(session.RequestType, session.Channel.NextMessageId(), name, data, ttlSeconds, contentFormat, legacyPublic: !isPrivate);
        await SendRequestAsync(session, message, $"event {name}", cancellationToken).ConfigureAwait(false);
        Interlocked.Increment(ref _eventsPublished);
    }

    /// <summary>Subscribes to events whose names start with <paramref name="prefix"/> (kept across reconnects).</summary>
    public async Task SubscribeAsync(string prefix, CancellationToken cancellationToken = default)
    {
        ValidateName(prefix);
        Session? session;
        lock (_gate)
        {
            if (!_subscriptions.Contains(prefix))
            {
                _subscriptions.Add(prefix);
            }

            session = _state == VirtualDeviceState.Connected ? _session : null;
        }

        if (session is not null)
        {
            await SendRequestAsync(session, ParticleMessages.Subscribe(session.RequestType, session.Channel.NextMessageId(), prefix), $"subscription {prefix}", cancellationToken).ConfigureAwait(false);
            session.CloudStateDigest = AppStateDigest();
        }
    }

    /// <summary>TCP: sends a NON request. UDP: sends it CON and waits for the ACK, which must not be an error.</summary>
    private static async Task SendRequestAsync(Session session, CoapMessage message, string what, CancellationToken cancellationToken)
    {
        if (!session.IsDatagram)
        {
            await session.SendAsync(message, cancellationToken).ConfigureAwait(false);
            return;
        }

        CoapMessage ack = await session.ConfirmAsync(message, cancellationToken).ConfigureAwait(false);
        if (ack.Type == CoapMessageType.Reset)
        {
            throw new CloudRefusedException(null, $"The cloud reset the {what}.");
        }

        if (!ack.Code.IsEmpty && !ack.Code.IsSuccess)
        {
            throw new CloudRefusedException(ack.Code, $"The cloud refused the {what} with {ack.Code}.");
        }
    }

    /// <summary>Asks the cloud for the time (CON GET /t) and waits for the 2.05 reply.</summary>
    public async Task<DateTimeOffset> RequestTimeAsync(CancellationToken cancellationToken = default)
    {
        Session session = RequireSession();
        var reply = new TaskCompletionSource<uint>(TaskCreationOptions.RunContinuationsAsynchronously);
        session.TimeWaiters.Enqueue(reply);
        await session.SendAsync(ParticleMessages.TimeRequest(session.Channel.NextMessageId(), NextToken()), cancellationToken).ConfigureAwait(false);
        uint seconds = await reply.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
        return DateTimeOffset.FromUnixTimeSeconds(seconds);
    }

    /// <summary>Sends an empty CON ping now (the keepalive does this by itself when idle); over UDP, waits for its empty ACK.</summary>
    public Task PingAsync(CancellationToken cancellationToken = default)
    {
        Session session = RequireSession();
        CoapMessage ping = ParticleMessages.Ping(session.Channel.NextMessageId());
        return session.IsDatagram ? session.ConfirmAsync(ping, cancellationToken) : session.SendAsync(ping, cancellationToken).AsTask();
    }

    /// <summary>Reads <see cref="Notifications"/> until one of type <typeparamref name="T"/> matches; earlier ones are consumed.</summary>
    public async Task<T> WaitForAsync<T>(Func<T, bool>? predicate = null, CancellationToken cancellationToken = default)
        where T : DeviceNotification
    {
        if (_notifications is null)
        {
            throw new InvalidOperationException("Notifications are off (NotificationCapacity is 0).");
        }

        while (true)
        {
            DeviceNotification notification = await _notifications.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (notification is T match && (predicate is null || predicate(match)))
            {
                return match;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        using var timeout = new CancellationTokenSource(GoodbyeGrace * 2, _time);
        try
        {
            await DisconnectAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Disposal does not wait for a server that will not close.
        }

        await _lifetime.CancelAsync().ConfigureAwait(false);
        if (_localControl is not null)
        {
            await _localControl.DisposeAsync().ConfigureAwait(false);
        }
        _notifications?.Writer.TryComplete();
        _lifetime.Dispose();
    }

    public override string ToString() => $"{Id} ({State})";

    private async Task<Session> OpenSessionAsync(CancellationToken cancellationToken)
    {
        DeviceLink link = IsUdp
            ? await OpenUdpLinkAsync(cancellationToken).ConfigureAwait(false)
            : await OpenTcpLinkAsync(cancellationToken).ConfigureAwait(false);
        var session = new Session(link, _lifetime.Token, _time.GetTimestamp());
        lock (_gate)
        {
            _session = session;
        }

        session.ReceiveLoop = Task.Run(() => ReceiveLoopAsync(session), CancellationToken.None);
        return session;
    }

    private async Task<DeviceLink> OpenUdpLinkAsync(CancellationToken cancellationToken)
    {
        ECDsa deviceKey;
        try
        {
            deviceKey = _identity.GetEcKey();
            _serverEcKey ??= ImportServerEcKey(_options.ServerEcPublicKey.Span);
        }
        catch (CryptographicException e)
        {
            throw new VirtualDeviceException(ConnectFailure.BadDeviceKey, $"The EC keys of device {Id} or of the server do not parse: {e.Message}", inner: e);
        }

        System.Net.IPEndPoint server;
        try
        {
            System.Net.IPAddress address = System.Net.IPAddress.TryParse(_host, out System.Net.IPAddress? parsed)
                ? parsed
                : (await System.Net.Dns.GetHostAddressesAsync(_host, cancellationToken).ConfigureAwait(false))
                    .OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1).First();
            server = new System.Net.IPEndPoint(address, _port);
        }
        catch (Exception e) when (e is SocketException or InvalidOperationException)
        {
            throw new VirtualDeviceException(ConnectFailure.Unreachable, $"Cannot resolve {_host}: {e.Message}", inner: e);
        }

        var dtlsOptions = new Bulwark.Protocol.Dtls.DtlsClientOptions { InitialRetransmitTimeout = _options.DtlsRetransmitTimeout };
        Gen3SavedSession? saved = _options.ResumeSessions ? SavedSession : null;
        return saved is not null
            ? Gen3Link.Resume(saved, deviceKey, _serverEcKey, server, dtlsOptions, _options.CoapOptions, _time)
            : await Gen3Link.HandshakeAsync(deviceKey, _serverEcKey, server, dtlsOptions, _options.CoapOptions, _time, _options.HandshakeTimeout, cancellationToken).ConfigureAwait(false);
    }

    private static ECDsa ImportServerEcKey(ReadOnlySpan<byte> spki)
    {
        var key = ECDsa.Create();
        key.ImportSubjectPublicKeyInfo(spki, out _);
        return key;
    }

    private async Task<DeviceLink> OpenTcpLinkAsync(CancellationToken cancellationToken)
    {
        ServerPublicKey serverKey = _serverKey!;
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                connectTimeout.CancelAfter(_options.HandshakeTimeout);
                try
                {
                    await socket.ConnectAsync(_host, _port, connectTimeout.Token).ConfigureAwait(false);
                }
                catch (SocketException e)
                {
                    throw new VirtualDeviceException(ConnectFailure.Unreachable, $"Cannot reach {_host}:{_port}: {e.Message}", inner: e);
                }
                catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
                {
                    throw new VirtualDeviceException(ConnectFailure.Unreachable, $"Cannot reach {_host}:{_port}: no answer within {_options.HandshakeTimeout.TotalSeconds:0.#} s.", inner: e);
                }
            }

            var stream = new NetworkStream(socket, ownsSocket: true);
            Gen2DeviceHandshakeResult handshake;
            DevicePrivateKey key;
            try
            {
                key = _identity.GetParsedKey();
            }
            catch (CryptographicException e)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw new VirtualDeviceException(ConnectFailure.BadDeviceKey, $"The private key of device {Id} does not parse: {e.Message}", inner: e);
            }

            var protocol = new Gen2DeviceHandshake(key, _identity.Id, serverKey, _options.HandshakeTimeout, _time);
            handshake = await protocol.RunAsync(stream, cancellationToken).ConfigureAwait(false);

            if (!handshake.Succeeded)
            {
                await stream.DisposeAsync().ConfigureAwait(false);
                throw new VirtualDeviceException(ConnectFailure.Handshake, HandshakeMessage(handshake.Error), handshake.Error);
            }

            // The device drops any frame larger than its 1152-byte buffer allows (device-protocol.md 7.9).
            var channelOptions = new Gen2ChannelOptions { MaxIncomingFrameLength = Gen2ChannelOptions.DeviceMaxFrameLength };
            return new Gen2Link(socket, new Gen2Channel(stream, handshake.SessionKeys!, channelOptions));
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    private string HandshakeMessage(Gen2DeviceHandshakeError error) => error switch
    {
        Gen2DeviceHandshakeError.ConnectionClosed => $"The server at {_host}:{_port} closed the connection during the handshake (unknown device ID or key?).",
        Gen2DeviceHandshakeError.Timeout => $"The handshake with {_host}:{_port} timed out.",
        Gen2DeviceHandshakeError.BadSignature => "The server's handshake signature does not verify: wrong server public key?",
        Gen2DeviceHandshakeError.UndecryptableSessionKeys => "The server's session keys do not decrypt under this device's key: the server holds another key for this device.",
        _ => $"The handshake failed: {error}.",
    };

    private async Task SendStartupSequenceAsync(Session session)
    {
        // The order Device OS 6.2 uses on TCP (device-protocol.md 1.4, live), and on UDP with events and subscriptions CON;
        // nothing here waits for an ACK (the channel retransmits in the background).
        await session.SendAsync(ParticleMessages.Describe(session.Channel.NextMessageId(), DescribeFlags.System, GetSystemDescribe(), ProtobufContentFormat)).ConfigureAwait(false);
        await session.SendAsync(ParticleMessages.TimeRequest(session.Channel.NextMessageId(), NextToken())).ConfigureAwait(false);
        await session.SendAsync(ParticleMessages.Event(session.RequestType, session.Channel.NextMessageId(), "particle/device/updates/enabled", "true"u8.ToArray())).ConfigureAwait(false);
        await session.SendAsync(ParticleMessages.Event(session.RequestType, session.Channel.NextMessageId(), "particle/device/updates/forced", "false"u8.ToArray())).ConfigureAwait(false);
        await session.SendAsync(ParticleMessages.Describe(session.Channel.NextMessageId(), DescribeFlags.Application, GetApplicationDescribe())).ConfigureAwait(false);
        await SendSubscriptionsAsync(session, includeSystem: true).ConfigureAwait(false);
    }

    private async Task SendSubscriptionsAsync(Session session, bool includeSystem)
    {
        string[] prefixes;
        lock (_gate)
        {
            prefixes = [.. _subscriptions];
        }

        if (includeSystem)
        {
            prefixes = ["particle", "spark", .. prefixes];
        }

        foreach (string prefix in prefixes)
        {
            await session.SendAsync(ParticleMessages.Subscribe(session.RequestType, session.Channel.NextMessageId(), prefix)).ConfigureAwait(false);
        }
    }

    private async Task ReceiveLoopAsync(Session session)
    {
        DisconnectReason reason = DisconnectReason.ConnectionClosed;
        string? detail = null;
        try
        {
            while (true)
            {
                CoapReceiveResult result = await session.Channel.ReceiveAsync(session.Token).ConfigureAwait(false);
                if (result.Message is null)
                {
                    if (result.Error == CoapChannelError.MalformedCoap)
                    {
                        // The frame decrypted, so the IV chain is intact; Device OS skips what it cannot parse.
                        continue;
                    }

                    (reason, detail) = result.Error switch
                    {
                        CoapChannelError.EndOfStream => (DisconnectReason.ConnectionClosed, "The server closed the connection."),
                        CoapChannelError.PeerUnreachable => (DisconnectReason.ConnectionClosed, "The server stopped acknowledging confirmable messages."),
                        _ => (DisconnectReason.ProtocolError, $"Bad frame from the server: {result}."),
                    };
                    break;
                }

                session.MarkReceived(_time.GetTimestamp());
                await HandleAsync(session, result.Message).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (session.Token.IsCancellationRequested)
        {
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            detail = e.Message;
        }
        finally
        {
            session.SetReason(reason, detail);
            await EndSessionAsync(session).ConfigureAwait(false);
        }
    }

    private async Task EndSessionAsync(Session session)
    {
        session.TryClose(session.Reason, session.Detail);
        _ota.Abort();
        AbortOtaV3();
        if (session.KeepaliveLoop is { } keepalive)
        {
            await keepalive.ConfigureAwait(false);
        }

        if (session.Link is Gen3Link gen3)
        {
            // Device OS keeps its session across disconnects, even unexpected ones; only KeyChange discards it. It keeps the
            // checksums of what it told the cloud, not of what it runs now.
            Gen3SavedSession? saved = session.Reason != DisconnectReason.SessionDiscarded && session.WasConnected && _options.ResumeSessions
                ? gen3.Save(session.CloudStateDigest)
                : null;
            lock (_gate)
            {
                if (saved is not null || session.Reason == DisconnectReason.SessionDiscarded)
                {
                    _savedSession = saved;
                }
            }
        }

        await session.Link.DisposeAsync().ConfigureAwait(false);
        lock (_gate)
        {
            if (ReferenceEquals(_session, session))
            {
                _session = null;
                _state = VirtualDeviceState.Disconnected;
            }
        }

        var lost = new VirtualDeviceException(ConnectFailure.ConnectionLost, session.Detail ?? "The connection closed.");
        session.ServerHello.TrySetException(lost);
        while (session.TimeWaiters.TryDequeue(out TaskCompletionSource<uint>? waiter))
        {
            waiter.TrySetException(lost);
        }

        if (session.WasConnected)
        {
            Notify(new DeviceDisconnected(session.Reason, session.Detail));
        }

        session.Ended.TrySetResult();
        session.Dispose();
        // Device OS reconnects at once after a firmware "reset" and after KeyChange discarded its session.
        bool reboot = session.Reason is DisconnectReason.FirmwareUpdate or DisconnectReason.SessionDiscarded;
        bool reconnect = session.WasConnected && _options.AutoReconnect && session.Reason != DisconnectReason.Requested;
        if ((reboot || reconnect) && !_lifetime.IsCancellationRequested)
        {
            _ = Task.Run(() => ReconnectAsync(reboot ? TimeSpan.Zero : _options.ReconnectDelay), CancellationToken.None);
        }
    }

    private async Task ReconnectAsync(TimeSpan delay)
    {
        CancellationToken cancellationToken = _lifetime.Token;
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (delay > TimeSpan.Zero)
                {
                    await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                }

                await ConnectAsync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (VirtualDeviceException)
            {
                delay = _options.ReconnectDelay;
            }
            catch (Exception e) when (e is OperationCanceledException or InvalidOperationException or ObjectDisposedException)
            {
                // Disposed, or someone else connected the device meanwhile.
                return;
            }
        }
    }

    private async Task KeepaliveLoopAsync(Session session, TimeSpan interval)
    {
        try
        {
            while (!session.Token.IsCancellationRequested)
            {
                TimeSpan idle = _time.GetElapsedTime(session.LastReceived);
                if (idle < interval)
                {
                    await Task.Delay(interval - idle, _time, session.Token).ConfigureAwait(false);
                    continue;
                }

                if (OtaInProgress)
                {
                    // Device OS sends no pings during an OTA (device-protocol.md 7.8).
                    await Task.Delay(interval, _time, session.Token).ConfigureAwait(false);
                    continue;
                }

                long sentAt = _time.GetTimestamp();
                await session.SendAsync(ParticleMessages.Ping(session.Channel.NextMessageId())).ConfigureAwait(false);
                await Task.Delay(_options.PingTimeout, _time, session.Token).ConfigureAwait(false);
                if (session.LastReceived < sentAt)
                {
                    session.TryClose(DisconnectReason.KeepaliveTimeout, $"Nothing received within {_options.PingTimeout.TotalSeconds:0.#} s of a ping.");
                    return;
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException)
        {
            session.TryClose(DisconnectReason.ConnectionClosed, e.Message);
        }
    }

    private async ValueTask HandleAsync(Session session, CoapMessage message)
    {
        ParticleMessageKind kind = RouteOta(ParticleMessageClassifier.Classify(message));
        switch (kind)
        {
            case ParticleMessageKind.Hello:
                // Device OS ACKs a CON Hello from the cloud (protocol.cpp, case HELLO).
                if (message.Type == CoapMessageType.Confirmable)
                {
                    await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
                }

                session.ServerHello.TrySetResult();
                break;
            case ParticleMessageKind.Ping:
                await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
                break;
            case ParticleMessageKind.EmptyAck:
                OnEmptyAck(session, message);
                break;
            case ParticleMessageKind.Reset:
                break;
            case ParticleMessageKind.Response:
                await HandleResponseAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.DescribeRequest:
                await AnswerDescribeAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.FunctionCall:
                await AnswerFunctionCallAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.VariableRequest:
                await AnswerVariableAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.Event:
                await DeliverEventAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.KeyChange:
                await HandleKeyChangeAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.Signal:
                await session.SendAsync(ParticleMessages.Acknowledge(message, CoapCode.Changed)).ConfigureAwait(false);
                Notify(new SignalChanged(!message.Payload.IsEmpty && message.Payload.Span[0] != 0));
                break;
            case ParticleMessageKind.UpdateBegin:
                await SendAllAsync(session, _ota.OnUpdateBegin(message, session.Channel.NextMessageId)).ConfigureAwait(false);
                break;
            case ParticleMessageKind.Chunk:
                await SendAllAsync(session, _ota.OnChunk(message, session.Channel.NextMessageId)).ConfigureAwait(false);
                break;
            case ParticleMessageKind.UpdateDone:
                await FinishUpdateAsync(session, message).ConfigureAwait(false);
                break;
            case ParticleMessageKind.UpdateStartV3 or ParticleMessageKind.UpdateChunkV3 or ParticleMessageKind.UpdateFinishV3:
                await HandleOtaV3Async(session, kind, message).ConfigureAwait(false);
                break;
            default:
                if (message.Type == CoapMessageType.Confirmable)
                {
                    await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
                }

                break;
        }
    }

    private async ValueTask HandleResponseAsync(Session session, CoapMessage message)
    {
        if (message.Type == CoapMessageType.Confirmable)
        {
            await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
        }

        // Device OS takes any 2.05 as the time reply (device-protocol.md 7.2).
        if (message.Code == CoapCode.Content && ParticleMessages.TryReadTimeResponse(message, out uint seconds))
        {
            while (session.TimeWaiters.TryDequeue(out TaskCompletionSource<uint>? waiter))
            {
                waiter.TrySetResult(seconds);
            }

            Notify(new TimeReceived(DateTimeOffset.FromUnixTimeSeconds(seconds)));
        }
    }

    private async ValueTask AnswerDescribeAsync(Session session, CoapMessage request)
    {
        CoapOption[] queries = request.GetOptions(CoapOptionNumber.UriQuery).ToArray();
        if (queries.Length == 0)
        {
            await session.SendAsync(ParticleMessages.Acknowledge(request, CoapCode.BadRequest)).ConfigureAwait(false);
            return;
        }

        byte flags = queries[0].Value.Length == 1 ? queries[0].Value.Span[0] : (byte)0;
        await session.SendAsync(ParticleMessages.EmptyAck(request.MessageId)).ConfigureAwait(false);
        Notify(new DescribeRequested(flags));
        if (queries.Length != 1 || queries[0].Value.Length != 1 || flags is not ((byte)DescribeFlags.System or (byte)DescribeFlags.Application or (byte)DescribeFlags.Metrics))
        {
            // Seen live on 6.2 gcc: an empty ACK, then protocol error 31 and a dropped connection (device-protocol.md 7.1).
            session.TryClose(DisconnectReason.DeviceOsError, $"Device OS error 31 (INTERNAL): Describe request with flags {Convert.ToHexString(queries[0].Value.Span)}.");
            return;
        }

        (byte[] payload, ushort? format) = (DescribeFlags)flags switch
        {
            DescribeFlags.System => (GetSystemDescribe(), (ushort?)ProtobufContentFormat),
            DescribeFlags.Application => (GetApplicationDescribe(), (ushort?)null),
            _ => (Array.Empty<byte>(), (ushort?)null),
        };
        IEnumerable<CoapOption>? options = format is { } value ? [CoapOption.FromUInt(CoapOptionNumber.ContentFormat, value)] : null;
        await session.SendAsync(new CoapMessage(CoapMessageType.Confirmable, CoapCode.Content, session.Channel.NextMessageId(), request.Token, options, payload)).ConfigureAwait(false);
    }

    private async ValueTask AnswerFunctionCallAsync(Session session, CoapMessage request)
    {
        if (request.Token.Length != 1)
        {
            session.TryClose(DisconnectReason.DeviceOsError, "Device OS error 28: a function call whose token is not 1 byte.");
            return;
        }

        if (!FunctionCallRequest.TryParse(request, out FunctionCallRequest? call))
        {
            await session.SendAsync(ParticleMessages.EmptyAck(request.MessageId)).ConfigureAwait(false);
            return;
        }

        if (request.TryGetOption(CoapOptionNumber.UriQuery, out CoapOption argument) && argument.Value.Length > FunctionCallRequest.MaxArgumentLength)
        {
            await session.SendAsync(ParticleMessages.Acknowledge(request, CoapCode.BadRequest)).ConfigureAwait(false);
            return;
        }

        await session.SendAsync(ParticleMessages.EmptyAck(request.MessageId)).ConfigureAwait(false);
        Func<string, int>? handler;
        lock (_gate)
        {
            _functions.TryGetValue(call.Name, out handler);
        }

        int? result = null;
        if (handler is not null)
        {
            try
            {
                result = handler(call.Argument);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // A throwing handler behaves like firmware that never returns: the cloud times out.
            }
        }

        // An unknown function gets the empty ACK only, never a result (device-protocol.md 7.3). The result is a separate
        // response after the empty ACK on both transports, NON on TCP and CON on UDP (Functions::function_result passes
        // channel.is_unreliable() as "confirmable").
        if (result is { } value)
        {
            await session.SendAsync(ParticleMessages.FunctionReturn(session.RequestType, session.Channel.NextMessageId(), request.Token, value)).ConfigureAwait(false);
        }

        Notify(new FunctionCalled(call.Name, call.Argument, result));
    }

    private async ValueTask AnswerVariableAsync(Session session, CoapMessage request)
    {
        if (request.Token.Length != 1)
        {
            session.TryClose(DisconnectReason.DeviceOsError, "Device OS error 28: a variable request whose token is not 1 byte.");
            return;
        }

        await session.SendAsync(ParticleMessages.EmptyAck(request.MessageId)).ConfigureAwait(false);
        CloudVariable? variable = null;
        string name = VariableRequest.TryParse(request, out VariableRequest? parsed) ? parsed.Name : string.Empty;
        lock (_gate)
        {
            _variables.TryGetValue(name, out variable);
        }

        byte[]? value = null;
        if (variable is not null)
        {
            try
            {
                value = variable.Read();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                value = null;
            }
        }

        // Empty ACK, then a separate response, CON on UDP (variables.cpp: separate_response(..., channel.is_unreliable())).
        CoapMessage reply = value is null
            ? ParticleMessages.SeparateResponse(session.RequestType, session.Channel.NextMessageId(), request.Token, CoapCode.NotFound)
            : ParticleMessages.SeparateResponse(session.RequestType, session.Channel.NextMessageId(), request.Token, CoapCode.Content, value);
        await session.SendAsync(reply).ConfigureAwait(false);
        Notify(new VariableRead(name, value is not null));
    }

    private async ValueTask DeliverEventAsync(Session session, CoapMessage message)
    {
        // Cloud-to-device events are never ACKed on TCP, even when sent CON (device-protocol.md 7.7); over UDP a CON one
        // gets an empty ACK first (subscriptions.cpp handle_event: CON and channel.is_unreliable()).
        if (session.IsDatagram && message.Type == CoapMessageType.Confirmable)
        {
            await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
        }

        if (!EventMessage.TryParse(message, out EventMessage? evt))
        {
            return;
        }

        bool subscribed;
        lock (_gate)
        {
            subscribed = _subscriptions.Exists(prefix => evt.Name.StartsWith(prefix, StringComparison.Ordinal));
        }

        if (subscribed)
        {
            Notify(new CloudEventReceived(evt.Name, evt.Data.ToArray()));
        }
    }

    /// <summary>
    /// KeyChange (PUT /k): an empty ACK to a CON, then, when the parameter is 1 on UDP, Device OS discards its saved
    /// session (DISCARD_SESSION), which ends the connection; it then reconnects with a full DTLS handshake. The TCP channel
    /// has no session to discard.
    /// </summary>
    private async ValueTask HandleKeyChangeAsync(Session session, CoapMessage message)
    {
        if (message.Type == CoapMessageType.Confirmable)
        {
            await session.SendAsync(ParticleMessages.EmptyAck(message.MessageId)).ConfigureAwait(false);
        }

        bool discard = message.TryGetOption(CoapOptionNumber.UriQuery, out CoapOption parameter) && parameter.Value.Length == 1 && parameter.Value.Span[0] == 1;
        if (discard && session.IsDatagram)
        {
            lock (_gate)
            {
                _savedSession = null;
            }

            session.TryClose(DisconnectReason.SessionDiscarded, "KeyChange: the cloud discarded the DTLS session.");
        }
    }

    private async ValueTask FinishUpdateAsync(Session session, CoapMessage request)
    {
        OtaStep step = _ota.OnUpdateDone(request, session.Channel.NextMessageId);
        if (step.CompletedImage is not { } image)
        {
            await SendAllAsync(session, step).ConfigureAwait(false);
            return;
        }

        (int result, string reason, ParsedModule? module) = CheckImage(image.Span);
        await session.SendAsync(_ota.Complete(request, result)).ConfigureAwait(false);
        if (module is null)
        {
            Notify(new FirmwareUpdateRejected(result, reason));
            return;
        }

        ApplyModule(session, module);
    }

    /// <summary>What the gcc HAL does with a validated module (OTA v1 and v3 alike): record its version, then "reset".</summary>
    private void ApplyModule(Session session, ParsedModule module)
    {
        if (module.Function == ModuleFunction.SystemPart)
        {
            _systemVersion = module.Version;
        }
        else if (module.Function == ModuleFunction.Bootloader)
        {
            _bootloaderVersion = module.Version;
            if (module.EnablesDeviceProtection)
            {
                _options.Protection?.ApplyProtectedBootloader();
            }
        }
        else
        {
            _userModuleVersion = module.Version;
            _userModuleHash = module.Sha256.ToArray();
            if (module.ProductId is { } productId and not 0xFFFF)
            {
                _productId = productId;
            }

            if (module.ProductVersion is { } productVersion and not 0xFFFF)
            {
                _productFirmwareVersion = productVersion;
            }
        }

        Notify(new FirmwareUpdateApplied(module.Function, module.Version, _productFirmwareVersion, _systemVersion));
        // The gcc HAL "resets" by re-executing itself; the next Hello carries the new versions.
        session.TryClose(DisconnectReason.FirmwareUpdate, $"Applied {module.Function} v{module.Version}; rebooting.");
    }

    private (int Result, string Reason, ParsedModule? Module) CheckImage(ReadOnlySpan<byte> image)
    {
        if (!FirmwareModule.TryParse(image, out ParsedModule? module, out FirmwareError? error))
        {
            return ((int)OtaResult.InvalidFormat, error.ToString(), null);
        }

        if (module.PlatformId != _options.PlatformId)
        {
            return ((int)OtaResult.InvalidPlatform, $"Module platform {module.PlatformId} is not this device's {_options.PlatformId}.", null);
        }

        // The gcc HAL applies only modules whose function and index it already reports.
        bool known = SystemDescribe.Modules.Any(m => (uint)m.Type == (uint)module.Function && m.Index == module.Index);
        return known
            ? ((int)OtaResult.Success, "Applied.", module)
            : ((int)OtaResult.UnsupportedModule, $"No {module.Function} {module.Index} on this device.", null);
    }

    private static async ValueTask SendAllAsync(Session session, OtaStep step)
    {
        foreach (CoapMessage reply in step.Replies)
        {
            await session.SendAsync(reply).ConfigureAwait(false);
        }
    }

    private void AddVariable(string name, CloudVariable variable)
    {
        ValidateName(name);
        lock (_gate)
        {
            _variables[name] = variable;
        }

        ResendApplicationDescribe();
    }

    private void ResendApplicationDescribe()
    {
        Session? session;
        lock (_gate)
        {
            session = _state == VirtualDeviceState.Connected ? _session : null;
        }

        if (session is null)
        {
            return;
        }

        // Device OS re-sends the application Describe when its checksum changes; registration stays synchronous.
        session.CloudStateDigest = AppStateDigest();
        _ = SendQuietlyAsync(session, ParticleMessages.Describe(session.Channel.NextMessageId(), DescribeFlags.Application, GetApplicationDescribe()));
    }

    private static async Task SendQuietlyAsync(Session session, CoapMessage message)
    {
        try
        {
            await session.SendAsync(message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            // The session is ending; the next one sends the Describe anyway.
        }
    }

    private Session RequireSession()
    {
        lock (_gate)
        {
            return _state == VirtualDeviceState.Connected && _session is { } session
                ? session
                : throw new InvalidOperationException($"Device {Id} is not connected.");
        }
    }

    private void ResetStateIfConnecting()
    {
        lock (_gate)
        {
            if (_state == VirtualDeviceState.Connecting)
            {
                _state = VirtualDeviceState.Disconnected;
                _session = null;
            }
        }
    }

    private byte NextToken() => (byte)Interlocked.Increment(ref _tokenCounter);

    private void Notify(DeviceNotification notification)
    {
        _notifications?.Writer.TryWrite(notification);
        try
        {
            Notified?.Invoke(this, notification);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A faulty observer must not take the protocol loop down.
        }
    }

    private static void ValidateName(string name)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(name.Length, MaxNameLength, nameof(name));
    }

    // One connection (TCP or DTLS): its link and CoAP channel, its loops and the state they share.
    private sealed class Session(DeviceLink link, CancellationToken lifetime, long connectedAt)
    {
        private readonly CancellationTokenSource _cancellation = CancellationTokenSource.CreateLinkedTokenSource(lifetime);
        private int _reasonSet;
        private long _lastReceived = connectedAt;

        public DeviceLink Link { get; } = link;

        public ICoapChannel Channel { get; } = link.Channel;

        public bool IsDatagram => Channel.IsDatagram;

        /// <summary>How device-originated requests travel: NON on TCP, CON on UDP (events, subscriptions, separate responses).</summary>
        public CoapMessageType RequestType => IsDatagram ? CoapMessageType.Confirmable : CoapMessageType.NonConfirmable;

        public CancellationToken Token => _cancellation.Token;

        public TaskCompletionSource ServerHello { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public System.Collections.Concurrent.ConcurrentQueue<TaskCompletionSource<uint>> TimeWaiters { get; } = new();

        public Task? ReceiveLoop { get; set; }

        public Task? KeepaliveLoop { get; set; }

        public bool WasConnected { get; set; }

        /// <summary>The <see cref="AppStateDigest"/> of what the cloud has been told in this session (Hello, Describes,
        /// subscriptions), saved with a Gen3 session.</summary>
        public byte[] CloudStateDigest { get; set; } = [];

        public DisconnectReason Reason { get; private set; } = DisconnectReason.ConnectionClosed;

        public string? Detail { get; private set; }

        public long LastReceived => Volatile.Read(ref _lastReceived);

        public void MarkReceived(long timestamp) => Volatile.Write(ref _lastReceived, timestamp);

        /// <summary>Records why the session ends; the first reason wins.</summary>
        public bool SetReason(DisconnectReason reason, string? detail)
        {
            if (Interlocked.Exchange(ref _reasonSet, 1) != 0)
            {
                return false;
            }

            Reason = reason;
            Detail = detail;
            return true;
        }

        /// <summary>Records the reason (if none yet) and stops both loops.</summary>
        public void TryClose(DisconnectReason reason, string? detail)
        {
            SetReason(reason, detail);
            try
            {
                _cancellation.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }

        public void Dispose() => _cancellation.Dispose();

        public ValueTask SendAsync(CoapMessage message, CancellationToken cancellationToken = default)
        {
            if (!cancellationToken.CanBeCanceled)
            {
                return Channel.SendAsync(message, Token);
            }

            return SendLinkedAsync(message, cancellationToken);
        }

        private async ValueTask SendLinkedAsync(CoapMessage message, CancellationToken cancellationToken)
        {
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Token);
            await Channel.SendAsync(message, linked.Token).ConfigureAwait(false);
        }

        /// <summary>UDP: sends a CON and returns the cloud's ACK (or RST).</summary>
        /// <exception cref="IOException">Never acknowledged, or the session ended first.</exception>
        public async Task<CoapMessage> ConfirmAsync(CoapMessage message, CancellationToken cancellationToken = default)
        {
            var datagrams = ((Gen3Link)Link).Datagrams;
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, Token);
            try
            {
                return await datagrams.SendConfirmableAsync(message, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
            {
                throw new IOException(Detail ?? "The session ended.", e);
            }
        }
    }
}

/// <summary>UpdateDone results (the <c>r</c> in <c>{"r":...}</c>): 0 or a Device OS system error code.</summary>
public enum OtaResult
{
    Success = 0,
    /// <summary>SYSTEM_ERROR_OTA_UNSUPPORTED_MODULE.</summary>
    UnsupportedModule = -1210,
    /// <summary>SYSTEM_ERROR_OTA_INVALID_PLATFORM.</summary>
    InvalidPlatform = -1260,
    /// <summary>SYSTEM_ERROR_OTA_INVALID_FORMAT.</summary>
    InvalidFormat = -1270,
}
