using System.Diagnostics;
using System.Net.Http.Headers;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Security;
using Bulwark.Server.Tests.Infrastructure;

// Login and token-validation throughput, each set against a baseline measured in the same run:
//   dotnet run -c Release --project bench/Bulwark.Server.Bench [-- --seconds 5]
var seconds = args.Length == 2 && args[0] == "--seconds" ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
var duration = TimeSpan.FromSeconds(seconds);
Console.WriteLine($"Bulwark server benchmark ({Environment.ProcessorCount} cores, {seconds:0.#} s per measurement)");

// 1. Token validation, in process: format check + SHA-256 + cache probe, as the authentication handler does per request.
var cache = new AccessTokenCache();
var token = AccessTokenFormat.Generate();
var hash = SecretHash.Of(token);
cache.Add(hash, new ValidatedToken("t", "u", "user@example.com", null, DateTime.UtcNow));
var validations = Measure(duration, () =>
{
    if (!AccessTokenFormat.LooksValid(token) || !cache.TryGet(SecretHash.Of(token), DateTime.UtcNow, out _))
    {
        throw new InvalidOperationException("validation failed");
    }
});
var hashesOnly = Measure(duration, () => SecretHash.Of(token));
Console.WriteLine($"token validation (warm, in process): {1e6 / validations:0.00} µs each ({validations:N0}/s); " +
                  $"baseline SHA-256 of the token alone: {1e6 / hashesOnly:0.00} µs; ratio {hashesOnly / validations:0.00}x the hash");

// 2. Over HTTP: an authenticated request versus the anonymous health check, same server, same client.
await using var server = await BulwarkTestServer.StartAsync();
var user = await server.CreateUserAsync();
using var anonymous = server.CreateClient();
using var authed = server.CreateClient(user.Token);
await WarmAsync(anonymous, "/healthz");
await WarmAsync(authed, "/v1/user/identify");
var health = await MeasureHttpAsync(anonymous, "/healthz", duration);
var identify = await MeasureHttpAsync(authed, "/v1/user/identify", duration);
Console.WriteLine($"HTTP GET /healthz (anonymous, baseline): {health:N0} req/s; GET /v1/user/identify (bearer token): {identify:N0} req/s; " +
                  $"ratio {identify / health:0.00}; added cost per request {(1e6 / identify - 1e6 / health) * Environment.ProcessorCount:0.0} µs of server CPU (approx.)");

// 3. Login throughput versus the raw password hash it is bound by.
var hashing = new PasswordHashing();
var stored = hashing.Hash(user.Password);
var verifies = Measure(duration, () => hashing.Verify(stored, user.Password));
var logins = await MeasureLoginsAsync(server, user, duration);
Console.WriteLine($"password hash verify (PBKDF2, one thread, baseline): {verifies:N1}/s; POST /oauth/token logins ({Environment.ProcessorCount} concurrent clients): {logins:N1}/s; " +
                  $"ratio {logins / verifies:0.00} (≈ cores used when login is bound by the hash)");

static double Measure(TimeSpan duration, Action action)
{
    for (var i = 0; i < 1000; i++)
    {
        action();
    }
    long count = 0;
    var watch = Stopwatch.StartNew();
    while (watch.Elapsed < duration)
    {
        for (var i = 0; i < 100; i++)
        {
            action();
        }
        count += 100;
    }
    return count / watch.Elapsed.TotalSeconds;
}

static async Task WarmAsync(HttpClient client, string path)
{
    for (var i = 0; i < 200; i++)
    {
        (await client.GetAsync(path)).EnsureSuccessStatusCode();
    }
}

static async Task<double> MeasureHttpAsync(HttpClient client, string path, TimeSpan duration)
{
    long count = 0;
    var watch = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, 8).Select(async _ =>
    {
        while (watch.Elapsed < duration)
        {
            using var response = await client.GetAsync(path);
            response.EnsureSuccessStatusCode();
            Interlocked.Increment(ref count);
        }
    });
    await Task.WhenAll(workers);
    return count / watch.Elapsed.TotalSeconds;
}

static async Task<double> MeasureLoginsAsync(BulwarkTestServer server, TestUser user, TimeSpan duration)
{
    long count = 0;
    var watch = Stopwatch.StartNew();
    var workers = Enumerable.Range(0, Environment.ProcessorCount).Select(async _ =>
    {
        while (watch.Elapsed < duration)
        {
            await server.LoginAsync(user.Username, user.Password);
            Interlocked.Increment(ref count);
        }
    });
    await Task.WhenAll(workers);
    return count / watch.Elapsed.TotalSeconds;
}
