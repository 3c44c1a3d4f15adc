using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Bulwark.Server.Security;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Auth;

public class MfaTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    private static FormUrlEncodedContent Form(params (string, string)[] fields) =>
        new(fields.ToDictionary(f => f.Item1, f => f.Item2));

    /// <summary>Enrols the user; answers the TOTP secret and the recovery codes.</summary>
    internal static async Task<(byte[] Secret, string[] RecoveryCodes)> EnrollAsync(BulwarkTestServer server, TestUser user, ManualClock clock)
    {
        using var client = server.CreateClient(user.Token);
        var start = await JsonAsync(await client.GetAsync("/v1/user/mfa-enable"));
        var secret = Base32.Decode(start.GetProperty("secret").GetString()!);
        Assert.StartsWith("otpauth://totp/Bulwark:", start.GetProperty("otpauth_uri").GetString(), StringComparison.Ordinal);
        Assert.StartsWith("data:image/png;base64,", start.GetProperty("qr_url").GetString(), StringComparison.Ordinal);
        var wrong = await client.PostAsJsonAsync("/v1/user/mfa-enable", new { mfa_token = start.GetProperty("mfa_token").GetString(), otp = "000000" });
        Assert.Equal(HttpStatusCode.BadRequest, wrong.StatusCode);
        var code = Totp.Code(secret, Totp.StepAt(clock.GetUtcNow()));
        var confirm = await client.PostAsJsonAsync("/v1/user/mfa-enable", new { mfa_token = start.GetProperty("mfa_token").GetString(), otp = code });
        await EnsureSuccessAsync(confirm);
        var body = await JsonAsync(confirm);
        Assert.True(body.GetProperty("enrolled").GetBoolean());
        var codes = body.GetProperty("recovery_codes").EnumerateArray().Select(c => c.GetString()!).ToArray();
        Assert.Equal(10, codes.Distinct().Count());
        clock.Advance(TimeSpan.FromSeconds(30));
        return (secret, codes);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Login_with_two_step_authentication(string provider)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await BulwarkTestServer.StartAsync(provider, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var user = await server.CreateUserAsync();
        var (secret, recoveryCodes) = await EnrollAsync(server, user, clock);
        using var client = server.CreateClient();

        var first = await client.PostAsync("/oauth/token", Form(("grant_type", "password"), ("username", user.Username), ("password", user.Password), ("client_id", "particle-api")));
        Assert.Equal(HttpStatusCode.Forbidden, first.StatusCode);
        var challenge = await JsonAsync(first);
        Assert.Equal("mfa_required", challenge.GetProperty("error").GetString());
        var mfaToken = challenge.GetProperty("mfa_token").GetString()!;

        var bad = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", mfaToken), ("otp", "123456")));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);

        var code = Totp.Code(secret, Totp.StepAt(clock.GetUtcNow()));
        var ok = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", mfaToken), ("otp", code)));
        await EnsureSuccessAsync(ok);
        var token = (await JsonAsync(ok)).GetProperty("access_token").GetString();
        using var authed = server.CreateClient(token);
        Assert.True((await JsonAsync(await authed.GetAsync("/v1/user"))).GetProperty("mfa").GetProperty("enabled").GetBoolean());

        // The challenge is single-use, and the same code is not accepted twice in its window.
        var reuseTicket = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", mfaToken), ("otp", code)));
        Assert.Equal(HttpStatusCode.BadRequest, reuseTicket.StatusCode);
        var again = await JsonAsync(await client.PostAsync("/oauth/token", Form(("grant_type", "password"), ("username", user.Username), ("password", user.Password))));
        var replay = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", again.GetProperty("mfa_token").GetString()!), ("otp", code)));
        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);

        // A recovery code works in place of the code, exactly once.
        var recovery = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", again.GetProperty("mfa_token").GetString()!), ("otp", recoveryCodes[0])));
        await EnsureSuccessAsync(recovery);
        var third = await JsonAsync(await client.PostAsync("/oauth/token", Form(("grant_type", "password"), ("username", user.Username), ("password", user.Password))));
        var recoveryAgain = await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", third.GetProperty("mfa_token").GetString()!), ("otp", recoveryCodes[0])));
        Assert.Equal(HttpStatusCode.BadRequest, recoveryAgain.StatusCode);

        // Listing tokens needs the second factor too.
        using var basic = server.CreateClient();
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(user.Username + ":" + user.Password)));
        Assert.Equal(HttpStatusCode.Forbidden, (await basic.GetAsync("/v1/access_tokens")).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(30));
        var listed = await basic.GetAsync("/v1/access_tokens?otp=" + Totp.Code(secret, Totp.StepAt(clock.GetUtcNow())));
        Assert.Equal(HttpStatusCode.OK, listed.StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Disabling_needs_the_password(string provider)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await BulwarkTestServer.StartAsync(provider, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var user = await server.CreateUserAsync();
        await EnrollAsync(server, user, clock);
        using var client = server.CreateClient(user.Token);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PutAsJsonAsync("/v1/user/mfa-disable", new { current_password = "wrong wrong" })).StatusCode);
        await EnsureSuccessAsync(await client.PutAsJsonAsync("/v1/user/mfa-disable", new { current_password = user.Password }));
        await server.LoginAsync(user.Username, user.Password);
    }

    [Fact]
    public async Task Guessing_codes_exhausts_the_challenge()
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await BulwarkTestServer.StartAsync(configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var user = await server.CreateUserAsync();
        var (secret, _) = await EnrollAsync(server, user, clock);
        using var client = server.CreateClient();
        var challenge = await JsonAsync(await client.PostAsync("/oauth/token", Form(("grant_type", "password"), ("username", user.Username), ("password", user.Password))));
        var ticket = challenge.GetProperty("mfa_token").GetString()!;
        for (var i = 0; i < 5; i++)
        {
            await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", ticket), ("otp", $"00000{i}")));
        }
        var right = Totp.Code(secret, Totp.StepAt(clock.GetUtcNow()));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/oauth/token", Form(("grant_type", "urn:custom:mfa-otp"), ("mfa_token", ticket), ("otp", right)))).StatusCode);
    }
}
