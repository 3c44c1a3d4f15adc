using Bulwark.DeviceSim.Cli;
using Bulwark.DeviceSim.Devices;
using Bulwark.DeviceSim.Fleet;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.DeviceSim.Tests;

public sealed class SimCliTests : IDisposable
{
    private readonly DirectoryInfo _directory = Directory.CreateTempSubdirectory("bulwark-sim-cli-");
    private readonly StringWriter _out = new();
    private readonly StringWriter _error = new();

    private string KeysPath => Path.Combine(_directory.FullName, "keys");

    [Fact]
    public async Task KeysGenerate_WritesTheRequestedNumberOfDevices()
    {
        int code = await RunAsync("keys", "generate", "--out", KeysPath, "--count", "3");

        Assert.Equal(SimExitCodes.Ok, code);
        Assert.Equal(3, DeviceKeyStore.Load(KeysPath).Count);
        Assert.True(File.Exists(Path.Combine(KeysPath, "devices.json")));
        Assert.Contains("Generated 3 device keys", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_ConnectsPublishesAndExitsCleanlyWhenStopped()
    {
        CancellationToken timeout = TestSupport.Timeout(60);
        await using TestCloud cloud = TestCloud.Start();
        IReadOnlyList<DeviceIdentity> identities = await DeviceKeyStore.GenerateAsync(KeysPath, 2, cancellationToken: timeout);
        foreach (DeviceIdentity identity in identities)
        {
            cloud.Register(identity.Id, DevicePublicKey.FromPem(identity.GetPublicKeyPem()));
        }

        // The blob names the host and port, so --server can be left out.
        string blob = WriteFile("server.der", ServerKeyBlob.ForTcp(TestCloud.ServerKey.PublicKeySpki, cloud.Host, cloud.Port));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout);
        Task<int> run = RunAsync(stop.Token, "run", "--server-key", blob, "--keys", KeysPath, "--product-id", "4321", "--product-version", "9",
            "--platform", "6", "--system-version", "6100", "--publish-every", "0.2", "--event", "cli/tick");

        var connections = new List<TestConnection> { await cloud.AcceptAsync(timeout), await cloud.AcceptAsync(timeout) };
        foreach (TestConnection connection in connections)
        {
            CoapMessage hello = await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
            Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
            Assert.Equal((4321, 9, 6, (ushort?)6100), (parsed.ProductId, parsed.ProductFirmwareVersion, parsed.PlatformId, parsed.SystemVersion));
            CoapMessage evt = await connection.ReceiveAsync(m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Event && m.GetUriPath() == "/E/cli/tick", timeout);
            Assert.Equal("/E/cli/tick", evt.GetUriPath());
        }

        await stop.CancelAsync();

        Assert.Equal(SimExitCodes.Ok, await run.WaitAsync(TestSupport.Timeout(30)));
        foreach (TestConnection connection in connections)
        {
            await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);
        }

        Assert.Contains("connected 2/2", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_Udp_ConnectsOverDtlsWithTheEcKeys_HelloCarriesTheId_AndPublishesCon()
    {
        CancellationToken timeout = TestSupport.Timeout(60);
        await using TestDtlsCloud cloud = TestDtlsCloud.Start();
        int code = await RunAsync("keys", "generate", "--out", KeysPath, "--count", "1");
        DeviceIdentity identity = DeviceKeyStore.Load(KeysPath).Single();
        cloud.Register(identity);

        string blob = WriteFile("server-udp.der", ServerKeyBlob.ForUdp(TestDtlsCloud.ServerPublicKeySpki, cloud.Host, cloud.Port));
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(timeout);
        Task<int> run = RunAsync(stop.Token, "run", "--transport", "udp", "--server-key", blob, "--keys", KeysPath, "--platform", "12",
            "--publish-every", "0.2", "--event", "cli/tick");

        TestConnection connection = await cloud.AcceptAsync(timeout);
        CoapMessage hello = await connection.ReceiveAsync(ParticleMessageKind.Hello, timeout);
        CoapMessage evt = await connection.ReceiveAsync(m => ParticleMessageClassifier.Classify(m) == ParticleMessageKind.Event && m.GetUriPath() == "/E/cli/tick", timeout);
        await stop.CancelAsync();

        Assert.Equal(SimExitCodes.Ok, code);
        Assert.Equal(SimExitCodes.Ok, await run.WaitAsync(TestSupport.Timeout(30)));
        Assert.True(HelloPayload.TryParse(hello.Payload.Span, out HelloPayload? parsed, out _));
        Assert.Equal((identity.Id, (ushort)12), (parsed.DeviceId, parsed.PlatformId));
        Assert.Equal(CoapMessageType.Confirmable, evt.Type);
        await connection.ReceiveAsync(ParticleMessageKind.Goodbye, timeout);
        Assert.Contains("over UDP/DTLS", _out.ToString(), StringComparison.Ordinal);
        Assert.Contains("connected 1/1", _out.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_AgainstAClosedPort_ExitsUnreachable()
    {
        await DeviceKeyStore.GenerateAsync(KeysPath, 1);
        string key = WriteFile("server.pem", System.Text.Encoding.ASCII.GetBytes(TestCloud.ServerKey.ExportPublicKeyPem()));
        int port;
        using (var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0))
        {
            listener.Start();
            port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        }

        int code = await RunAsync("run", "--server", $"127.0.0.1:{port}", "--server-key", key, "--keys", KeysPath);

        Assert.Equal(SimExitCodes.Unreachable, code);
        Assert.StartsWith("error: cannot reach the device gateway at 127.0.0.1:", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithUnregisteredKeys_ExitsHandshakeRefused()
    {
        CancellationToken timeout = TestSupport.Timeout(30);
        await using TestCloud cloud = TestCloud.Start();
        await DeviceKeyStore.GenerateAsync(KeysPath, 1, cancellationToken: timeout);
        string key = WriteFile("server.pem", System.Text.Encoding.ASCII.GetBytes(TestCloud.ServerKey.ExportPublicKeyPem()));

        int code = await RunAsync(timeout, "run", "--server", $"{cloud.Host}:{cloud.Port}", "--server-key", key, "--keys", KeysPath);

        Assert.Equal(SimExitCodes.HandshakeRefused, code);
        Assert.Contains("Register the keys", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithABadServerKeyFile_ExitsUsage()
    {
        await DeviceKeyStore.GenerateAsync(KeysPath, 1);
        string key = WriteFile("server.pem", "garbage"u8.ToArray());

        int code = await RunAsync("run", "--server", "127.0.0.1:5683", "--server-key", key, "--keys", KeysPath);

        Assert.Equal(SimExitCodes.Usage, code);
        Assert.StartsWith("error: bad server key file: ", _error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Run_WithoutRequiredOptions_ExitsUsage()
    {
        Assert.Equal(SimExitCodes.Usage, await RunAsync("run", "--server", "127.0.0.1"));
        Assert.Contains("--server-key", _error.ToString(), StringComparison.Ordinal);
    }

    public void Dispose()
    {
        _out.Dispose();
        _error.Dispose();
        _directory.Delete(recursive: true);
    }

    private Task<int> RunAsync(params string[] args) => RunAsync(TestSupport.Timeout(30), args);

    private Task<int> RunAsync(CancellationToken cancellationToken, params string[] args) =>
        SimCli.RunAsync(args, new SimConsole(TextWriter.Synchronized(_out), TextWriter.Synchronized(_error)), cancellationToken: cancellationToken);

    private string WriteFile(string name, byte[] contents)
    {
        string path = Path.Combine(_directory.FullName, name);
        File.WriteAllBytes(path, contents);
        return path;
    }
}
