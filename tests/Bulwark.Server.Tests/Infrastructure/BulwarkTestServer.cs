using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Logging;

namespace Bulwark.Server.Tests.Infrastructure;

/// <summary>The real server, started in-process on a free 127.0.0.1 port with its own temporary data folder and
/// its own database (SQLite file, or a fresh PostgreSQL database). Tests talk to it over real HTTP.</summary>
public sealed class BulwarkTestServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dataDirectory;

    private BulwarkTestServer(WebApplication app, string dataDirectory, Uri baseAddress, string provider)
    {
        _app = app;
        _dataDirectory = dataDirectory;
        BaseAddress = baseAddress;
        Provider = provider;
    }

    public Uri BaseAddress { get; }

    /// <summary>Base URL without a trailing slash, as particle-api-js and particle-cli want it.</summary>
    public string Url => BaseAddress.ToString().TrimEnd('/');

    public string Provider { get; }

    public string DataDirectory => _dataDirectory;

    public IServiceProvider Services => _app.Services;

    /// <summary>The device gateway's bound TCP port (Gen2 devices connect here).</summary>
    public int GatewayPort => _app.Services.GetRequiredService<Bulwark.Server.Gateway.DeviceGateway>().TcpPort.GetAwaiter().GetResult();

    /// <summary>The Gen3 gateway's DTLS server, to look at its sessions.</summary>
    public Bulwark.Protocol.Dtls.DtlsServer UdpGateway => _app.Services.GetRequiredService<Bulwark.Server.Gateway.Udp.UdpDeviceGateway>().Server
        ?? throw new InvalidOperationException("The UDP gateway is off in this server's settings");

    /// <summary>The device gateway's bound UDP port (Gen3 devices connect here over DTLS).</summary>
    public int UdpGatewayPort => UdpGateway.LocalEndPoint.Port;

    /// <summary>Starts a server. <paramref name="settings"/> are configuration overrides such as
    /// <c>["Bulwark:Signup"] = "closed"</c>.</summary>
    public static async Task<BulwarkTestServer> StartAsync(string provider = TestDatabase.Sqlite,
        IDictionary<string, string?>? settings = null, Action<WebApplicationBuilder>? configure = null)
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "bulwark-test-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dataDirectory);
        var config = new Dictionary<string, string?>
        {
            ["Bulwark:DataDirectory"] = dataDirectory,
            // Tests make many logins from one address; the throttle tests set their own limits.
            ["Bulwark:LoginThrottle:AddressFailureLimit"] = "1000",
            // A free port per server, so test servers never collide on the device port.
            ["Bulwark:Gateway:TcpPort"] = "0",
            ["Bulwark:Gateway:UdpPort"] = "0",
        };
        if (provider == TestDatabase.Postgres)
        {
            config["Database:Provider"] = "postgres";
            config["Database:ConnectionString"] = await TestDatabase.CreatePostgresDatabaseAsync();
        }
        if (settings is not null)
        {
            foreach (var (k, v) in settings)
            {
                config[k] = v;
            }
        }
        var app = BulwarkServer.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(config);
            builder.Logging.ClearProviders();
            builder.Logging.AddFilter((category, level) => level >= LogLevel.Warning);
            configure?.Invoke(builder);
        });
        await app.MigrateAsync();
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new BulwarkTestServer(app, dataDirectory, new Uri(address), provider);
    }

    /// <summary>An HTTP client for the server, optionally carrying a bearer token.</summary>
    public HttpClient CreateClient(string? token = null)
    {
        var client = new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }
        return client;
    }

    /// <summary>A fresh, unique account. Each test makes its own users, so tests never depend on each other's data.</summary>
    public async Task<TestUser> CreateUserAsync(string? username = null, string? password = null)
    {
        username ??= $"user-{Guid.NewGuid():N}@example.com";
        password ??= "Bulwark test " + Guid.NewGuid().ToString("N")[..10];
        using var client = CreateClient();
        var signup = await client.PostAsJsonAsync("/v1/users", new { username, password }, ApiJson.Options);
        await EnsureSuccessAsync(signup);
        var token = await LoginAsync(username, password);
        return new TestUser(username, password, token);
    }

    /// <summary>Password grant exactly as particle-api-js sends it.</summary>
    public async Task<string> LoginAsync(string username, string password, string expiresIn = "7776000")
    {
        using var client = CreateClient();
        var response = await client.PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password",
            ["username"] = username,
            ["password"] = password,
            ["client_id"] = "particle-api",
            ["client_secret"] = "particle-api",
            ["expires_in"] = expiresIn,
        }));
        await EnsureSuccessAsync(response);
        var body = await response.Content.ReadFromJsonAsync<TokenResponse>(ApiJson.Options);
        return body!.AccessToken;
    }

    public static async Task EnsureSuccessAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        if (!response.IsSuccessStatusCode)
        {
            var text = await response.Content.ReadAsStringAsync();
            throw new HttpRequestException($"{(int)response.StatusCode} {response.RequestMessage?.Method} {response.RequestMessage?.RequestUri}: {text}");
        }
    }

    public static async Task<JsonElement> JsonAsync(HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(response);
        var text = await response.Content.ReadAsStringAsync();
        return JsonDocument.Parse(text).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>An account created for one test.</summary>
public sealed record TestUser(string Username, string Password, string Token);
