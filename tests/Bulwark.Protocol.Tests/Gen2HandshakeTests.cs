using System.Net;
using System.Net.Sockets;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using static Bulwark.Protocol.Tests.TestVectors;

namespace Bulwark.Protocol.Tests;

public sealed class Gen2HandshakeTests : IDisposable
{
    private readonly ServerPrivateKey _serverKey = ServerPrivateKey.FromPem(ServerPrivateKeyPem);
    private readonly DevicePrivateKey _deviceKey = DevicePrivateKey.FromPem(DevicePrivateKeyPem);
    private readonly DeviceId _deviceId = DeviceId.Parse(DeviceIdHex);

    public void Dispose()
    {
        _serverKey.Dispose();
        _deviceKey.Dispose();
    }

    [Fact]
    public void Server_reply_is_ciphertext_then_signed_hmac_exactly()
    {
        var handshake = new Gen2ServerHandshake(_serverKey);
        byte[] reply = handshake.CreateReply(Bytes(SessionCiphertextHex), SessionKeys.FromBytes(Bytes(SessionKeysHex)));
        Assert.Equal(384, reply.Length);
        Assert.Equal(SessionCiphertextHex + SessionSignatureHex, Convert.ToHexStringLower(reply));
    }

    [Fact]
    public void Device_accepts_the_fixed_reply_and_recovers_the_session_keys()
    {
        var device = new Gen2DeviceHandshake(_deviceKey, _deviceId, ServerPublicKey.FromSpki(Bytes(ServerPublicSpkiHex)));
        Assert.True(device.TryAcceptReply(Bytes(SessionCiphertextHex + SessionSignatureHex), out SessionKeys? keys, out Gen2DeviceHandshakeError error), error.ToString());
        Assert.Equal(SessionKeysHex, Convert.ToHexStringLower(keys.ToArray()));
        Assert.Equal("000102030405060708090a0b0c0d0e0f", Convert.ToHexStringLower(keys.Key));
        Assert.Equal("101112131415161718191a1b1c1d1e1f", Convert.ToHexStringLower(keys.Iv));
        Assert.Equal("fa08a1a2a3a4a5a6", Convert.ToHexStringLower(keys.Salt));
        // Live: salt fa08.. gave Hello message ID 0x08fa + 1.
        Assert.Equal(0x08FA, keys.InitialMessageId);
    }

    [Fact]
    public void Device_rejects_a_reply_signed_by_another_server()
    {
        using ServerPrivateKey otherServer = ServerPrivateKey.Generate();
        var device = new Gen2DeviceHandshake(_deviceKey, _deviceId, ServerPublicKey.FromSpki(otherServer.PublicKeySpki));
        Assert.False(device.TryAcceptReply(Bytes(SessionCiphertextHex + SessionSignatureHex), out _, out Gen2DeviceHandshakeError error));
        Assert.Equal(Gen2DeviceHandshakeError.BadSignature, error);
    }

    [Fact]
    public void Server_opens_the_fixed_identification()
    {
        var handshake = new Gen2ServerHandshake(_serverKey);
        Assert.True(handshake.TryOpenIdentification(Bytes(IdentificationCiphertextHex), Bytes(NonceHex), out DeviceId id, out byte[] spki, out _));
        Assert.Equal(_deviceId, id);
        Assert.Equal(DevicePublicSpkiHex, Convert.ToHexStringLower(spki));

        byte[] otherNonce = Bytes(NonceHex);
        otherNonce[39] ^= 1;
        Assert.False(handshake.TryOpenIdentification(Bytes(IdentificationCiphertextHex), otherNonce, out _, out _, out Gen2HandshakeRefusal refusal));
        Assert.Equal(Gen2HandshakeRefusal.BadNonce, refusal);
    }

    [Fact]
    public void Device_identification_decrypts_to_nonce_id_and_spki()
    {
        var device = new Gen2DeviceHandshake(_deviceKey, _deviceId, ServerPublicKey.FromSpki(_serverKey.PublicKeySpki));
        byte[] identification = device.CreateIdentification(Bytes(NonceHex));
        Assert.Equal(256, identification.Length);
        var plaintext = new byte[256];
        Assert.True(_serverKey.TryDecrypt(identification, plaintext, out int length));
        Assert.Equal(NonceHex + DeviceIdHex + DevicePublicSpkiHex, Convert.ToHexStringLower(plaintext.AsSpan(0, length)));
    }

    [Fact]
    public void Identification_parser_refuses_wrong_lengths_as_garbage()
    {
        Assert.False(Gen2ServerHandshake.TryParseIdentification(new byte[52], Bytes(NonceHex), out _, out Gen2HandshakeRefusal refusal));
        Assert.Equal(Gen2HandshakeRefusal.Garbage, refusal);
    }

    [Fact]
    public async Task Both_sides_agree_on_session_keys_over_loopback_tcp()
    {
        var (server, device) = await RunBothSides(_ => ValueTask.FromResult<DevicePublicKey?>(_deviceKey.PublicKey), _deviceKey);
        Assert.True(server.Succeeded, server.ToString());
        Assert.True(device.Succeeded, device.Error.ToString());
        Assert.Equal(_deviceId, server.DeviceId);
        Assert.Equal(server.SessionKeys!.ToArray(), device.SessionKeys!.ToArray());
    }

    [Fact]
    public async Task Unknown_device_is_refused_with_its_presented_key()
    {
        DeviceId? asked = null;
        var (server, device) = await RunBothSides(id => { asked = id; return ValueTask.FromResult<DevicePublicKey?>(null); }, _deviceKey);
        Assert.Equal(Gen2HandshakeRefusal.UnknownDevice, server.Refusal);
        Assert.Equal(_deviceId, asked);
        Assert.Equal(_deviceId, server.DeviceId);
        Assert.True(server.PresentedKey!.MatchesDeviceSpki(Bytes(DevicePublicSpkiHex)));
        Assert.False(device.Succeeded);
    }

    [Fact]
    public async Task A_different_key_for_a_known_id_is_a_mismatch()
    {
        using DevicePrivateKey impostor = DevicePrivateKey.Generate();
        var (server, _) = await RunBothSides(_ => ValueTask.FromResult<DevicePublicKey?>(_deviceKey.PublicKey), impostor);
        Assert.Equal(Gen2HandshakeRefusal.KeyMismatch, server.Refusal);
        Assert.Null(server.SessionKeys);
    }

    [Fact]
    public async Task Garbage_identification_is_refused()
    {
        var handshake = new Gen2ServerHandshake(_serverKey);
        await using var pair = await LoopbackPair.CreateAsync();
        Task<Gen2ServerHandshakeResult> serverTask = handshake.RunAsync(pair.Server, (_, _) => ValueTask.FromResult<DevicePublicKey?>(null));
        await pair.Client.ReadExactlyAsync(new byte[40]);
        await pair.Client.WriteAsync(new byte[256]);
        Assert.Equal(Gen2HandshakeRefusal.Garbage, (await serverTask).Refusal);
    }

    [Fact]
    public async Task Silent_device_times_out()
    {
        var handshake = new Gen2ServerHandshake(_serverKey, TimeSpan.FromMilliseconds(200));
        await using var pair = await LoopbackPair.CreateAsync();
        Gen2ServerHandshakeResult result = await handshake.RunAsync(pair.Server, (_, _) => ValueTask.FromResult<DevicePublicKey?>(null));
        Assert.Equal(Gen2HandshakeRefusal.Timeout, result.Refusal);
    }

    [Fact]
    public async Task Hang_up_mid_handshake_is_connection_closed()
    {
        var handshake = new Gen2ServerHandshake(_serverKey);
        await using var pair = await LoopbackPair.CreateAsync();
        Task<Gen2ServerHandshakeResult> serverTask = handshake.RunAsync(pair.Server, (_, _) => ValueTask.FromResult<DevicePublicKey?>(null));
        await pair.Client.ReadExactlyAsync(new byte[40]);
        await pair.Client.WriteAsync(new byte[100]);
        pair.CloseClient();
        Assert.Equal(Gen2HandshakeRefusal.ConnectionClosed, (await serverTask).Refusal);
    }

    [Fact]
    public async Task Caller_cancellation_is_not_reported_as_timeout()
    {
        var handshake = new Gen2ServerHandshake(_serverKey);
        await using var pair = await LoopbackPair.CreateAsync();
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(100));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            handshake.RunAsync(pair.Server, (_, _) => ValueTask.FromResult<DevicePublicKey?>(null), cancellation.Token));
    }

    private async Task<(Gen2ServerHandshakeResult Server, Gen2DeviceHandshakeResult Device)> RunBothSides(
        Func<DeviceId, ValueTask<DevicePublicKey?>> lookup, DevicePrivateKey deviceKey)
    {
        var server = new Gen2ServerHandshake(_serverKey, TimeSpan.FromSeconds(10));
        var device = new Gen2DeviceHandshake(deviceKey, _deviceId, ServerPublicKey.FromSpki(_serverKey.PublicKeySpki), TimeSpan.FromSeconds(10));
        await using var pair = await LoopbackPair.CreateAsync();
        Task<Gen2ServerHandshakeResult> serverTask = server.RunAsync(pair.Server, (id, _) => lookup(id));
        Task<Gen2DeviceHandshakeResult> deviceTask = device.RunAsync(pair.Client);
        Gen2ServerHandshakeResult serverResult = await serverTask;
        if (!serverResult.Succeeded)
        {
            pair.CloseServer();
        }

        return (serverResult, await deviceTask);
    }
}

// A real loopback TCP connection: the handshake and channel run over NetworkStream exactly as in the gateway.
internal sealed class LoopbackPair : IAsyncDisposable
{
    private readonly TcpClient _client;
    private readonly TcpClient _server;

    private LoopbackPair(TcpClient client, TcpClient server)
    {
        _client = client;
        _server = server;
        Client = client.GetStream();
        Server = server.GetStream();
    }

    public NetworkStream Client { get; }

    public NetworkStream Server { get; }

    public static async Task<LoopbackPair> CreateAsync()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            var client = new TcpClient();
            Task connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port);
            TcpClient server = await listener.AcceptTcpClientAsync();
            await connect;
            return new LoopbackPair(client, server);
        }
        finally
        {
            listener.Stop();
        }
    }

    public void CloseClient() => _client.Client.Shutdown(SocketShutdown.Send);

    public void CloseServer() => _server.Client.Shutdown(SocketShutdown.Both);

    public ValueTask DisposeAsync()
    {
        _client.Dispose();
        _server.Dispose();
        return ValueTask.CompletedTask;
    }
}
