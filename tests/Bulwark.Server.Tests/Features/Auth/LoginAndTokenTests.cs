using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Auth;

public class LoginAndTokenTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    private static FormUrlEncodedContent PasswordGrant(string username, string password, string? expiresIn = null)
    {
        var fields = new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = username, ["password"] = password,
            ["client_id"] = "particle-cli", ["client_secret"] = "particle-cli",
        };
        if (expiresIn is not null)
        {
            fields["expires_in"] = expiresIn;
        }
        return new FormUrlEncodedContent(fields);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Sign_up_log_in_and_read_the_account(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var me = await JsonAsync(await client.GetAsync("/v1/user"));
        Assert.Equal(user.Username, me.GetProperty("username").GetString());
        Assert.False(me.GetProperty("mfa").GetProperty("enabled").GetBoolean());

        // The token is also accepted as a query parameter and as a form field.
        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.GetAsync("/v1/user?access_token=" + user.Token)).StatusCode);
        var form = new FormUrlEncodedContent(new Dictionary<string, string> { ["access_token"] = user.Token, ["account_info[first_name]"] = "Ada" });
        Assert.Equal(HttpStatusCode.OK, (await anonymous.PutAsync("/v1/user", form)).StatusCode);
        Assert.Equal("Ada", (await JsonAsync(await client.GetAsync("/v1/user"))).GetProperty("account_info").GetProperty("first_name").GetString());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Bad_credentials_answer_invalid_grant_without_revealing_whether_the_user_exists(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient();
        var wrongPassword = await client.PostAsync("/oauth/token", PasswordGrant(user.Username, "not the password at all"));
        var unknownUser = await client.PostAsync("/oauth/token", PasswordGrant("nobody-" + Guid.NewGuid() + "@example.com", "not the password at all"));
        Assert.Equal(HttpStatusCode.BadRequest, wrongPassword.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, unknownUser.StatusCode);
        var a = await JsonAsync(wrongPassword);
        var b = await JsonAsync(unknownUser);
        Assert.Equal("invalid_grant", a.GetProperty("error").GetString());
        Assert.Equal(a.GetRawText(), b.GetRawText());
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_with_429_even_for_the_right_password()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Bulwark:LoginThrottle:AccountFailureLimit"] = "3",
        });
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient();
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/oauth/token", PasswordGrant(user.Username, "wrong password " + i))).StatusCode);
        }
        var locked = await client.PostAsync("/oauth/token", PasswordGrant(user.Username, user.Password));
        Assert.Equal(HttpStatusCode.TooManyRequests, locked.StatusCode);
        Assert.True(locked.Headers.RetryAfter is not null);
        Assert.Contains("Too many failed login attempts", (await JsonAsync(locked)).GetProperty("error_description").GetString(), StringComparison.Ordinal);

        // An unknown username locks the same way, so a lockout reveals nothing about which accounts exist.
        var ghost = "ghost-" + Guid.NewGuid() + "@example.com";
        for (var i = 0; i < 3; i++)
        {
            await client.PostAsync("/oauth/token", PasswordGrant(ghost, "wrong password " + i));
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/oauth/token", PasswordGrant(ghost, "anything at all"))).StatusCode);
    }

    [Fact]
    public async Task Repeated_failures_from_one_address_lock_that_address()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: new Dictionary<string, string?>
        {
            ["Bulwark:LoginThrottle:AddressFailureLimit"] = "4",
            ["Bulwark:LoginThrottle:AccountFailureLimit"] = "100",
        });
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient();
        for (var i = 0; i < 4; i++)
        {
            await client.PostAsync("/oauth/token", PasswordGrant($"spray-{i}@example.com", "wrong password"));
        }
        Assert.Equal(HttpStatusCode.TooManyRequests, (await client.PostAsync("/oauth/token", PasswordGrant(user.Username, user.Password))).StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Tokens_expire_and_zero_means_never(string provider)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await BulwarkTestServer.StartAsync(provider, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var user = await server.CreateUserAsync();
        var shortLived = await server.LoginAsync(user.Username, user.Password, expiresIn: "60");
        var forever = await server.LoginAsync(user.Username, user.Password, expiresIn: "0");
        using var shortClient = server.CreateClient(shortLived);
        using var foreverClient = server.CreateClient(forever);
        Assert.Equal(HttpStatusCode.OK, (await shortClient.GetAsync("/v1/user")).StatusCode);
        var current = await JsonAsync(await foreverClient.GetAsync("/v1/access_tokens/current"));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, current.GetProperty("expires_at").ValueKind);
        Assert.Equal("particle-api", current.GetProperty("client").GetString());

        clock.Advance(TimeSpan.FromSeconds(61));
        var expired = await shortClient.GetAsync("/v1/user");
        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        Assert.Equal("invalid_token", (await JsonAsync(expired)).GetProperty("error").GetString());
        clock.Advance(TimeSpan.FromDays(3650));
        Assert.Equal(HttpStatusCode.OK, (await foreverClient.GetAsync("/v1/user")).StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Tokens_are_listed_with_the_password_and_revoked_in_every_way(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        var second = await server.LoginAsync(user.Username, user.Password);
        var third = await server.LoginAsync(user.Username, user.Password);

        using var basic = server.CreateClient();
        basic.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic",
            Convert.ToBase64String(Encoding.UTF8.GetBytes(user.Username + ":" + user.Password)));
        var list = await JsonAsync(await basic.GetAsync("/v1/access_tokens"));
        Assert.Equal(3, list.GetArrayLength());
        // Only a short hint of each token is shown: the secrets are not stored, so they cannot be listed.
        Assert.All(list.EnumerateArray(), t => Assert.True(t.GetProperty("token").GetString()!.Length <= 11));
        Assert.All(list.EnumerateArray(), t => Assert.Equal("particle-api", t.GetProperty("client").GetString()));

        using var noPassword = server.CreateClient(user.Token);
        Assert.Equal(HttpStatusCode.Unauthorized, (await noPassword.GetAsync("/v1/access_tokens")).StatusCode);

        // Revoke one by its value, with no other credentials (as particle-cli does).
        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await anonymous.DeleteAsync("/v1/access_tokens/" + second)).StatusCode);
        using var secondClient = server.CreateClient(second);
        Assert.Equal(HttpStatusCode.Unauthorized, (await secondClient.GetAsync("/v1/user")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await anonymous.DeleteAsync("/v1/access_tokens/" + second)).StatusCode);

        // Revoke the current one.
        using var thirdClient = server.CreateClient(third);
        Assert.Equal(HttpStatusCode.OK, (await thirdClient.DeleteAsync("/v1/access_tokens/current")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await thirdClient.GetAsync("/v1/user")).StatusCode);

        // Revoke all.
        var fourth = await server.LoginAsync(user.Username, user.Password);
        using var first = server.CreateClient(user.Token);
        Assert.Equal(HttpStatusCode.OK, (await first.DeleteAsync("/v1/access_tokens")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await first.GetAsync("/v1/user")).StatusCode);
        using var fourthClient = server.CreateClient(fourth);
        Assert.Equal(HttpStatusCode.Unauthorized, (await fourthClient.GetAsync("/v1/user")).StatusCode);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task A_password_change_can_invalidate_the_other_tokens(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        var other = await server.LoginAsync(user.Username, user.Password);
        using var client = server.CreateClient(user.Token);

        var weak = await client.PutAsJsonAsync("/v1/user", new { password = "password123", current_password = user.Password });
        Assert.Equal(HttpStatusCode.BadRequest, weak.StatusCode);
        var wrongCurrent = await client.PutAsJsonAsync("/v1/user", new { password = "a brand new passphrase", current_password = "wrong" });
        Assert.Equal(HttpStatusCode.BadRequest, wrongCurrent.StatusCode);

        var changed = await client.PutAsJsonAsync("/v1/user", new { password = "a brand new passphrase", current_password = user.Password, invalidate_tokens = true });
        await EnsureSuccessAsync(changed);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/v1/user")).StatusCode);
        using var otherClient = server.CreateClient(other);
        Assert.Equal(HttpStatusCode.Unauthorized, (await otherClient.GetAsync("/v1/user")).StatusCode);
        await server.LoginAsync(user.Username, "a brand new passphrase");
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Deleting_the_account_needs_the_password_and_removes_its_tokens(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        using var client = server.CreateClient(user.Token);
        var wrong = new HttpRequestMessage(HttpMethod.Delete, "/v1/user") { Content = JsonContent.Create(new { password = "nope nope nope" }) };
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(wrong)).StatusCode);
        var right = new HttpRequestMessage(HttpMethod.Delete, "/v1/user") { Content = JsonContent.Create(new { password = user.Password }) };
        Assert.Equal(HttpStatusCode.OK, (await client.SendAsync(right)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/v1/user")).StatusCode);
        using var anonymous = server.CreateClient();
        Assert.Equal(HttpStatusCode.BadRequest, (await anonymous.PostAsync("/oauth/token", PasswordGrant(user.Username, user.Password))).StatusCode);
    }

    [Fact]
    public async Task Sign_up_can_be_closed()
    {
        await using var server = await BulwarkTestServer.StartAsync(settings: new Dictionary<string, string?> { ["Bulwark:Signup"] = "closed" });
        using var client = server.CreateClient();
        var response = await client.PostAsJsonAsync("/v1/users", new { username = "x@example.com", password = "a fine passphrase" });
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("signup_closed", (await JsonAsync(response)).GetProperty("error").GetString());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Sign_up_refuses_bad_passwords_and_duplicates_with_the_reason(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        using var client = server.CreateClient();
        var common = await client.PostAsJsonAsync("/v1/users", new { username = "c@example.com", password = "password1" });
        Assert.Contains("common", (await JsonAsync(common)).GetProperty("error_description").GetString(), StringComparison.Ordinal);
        var withName = await client.PostAsJsonAsync("/v1/users", new { username = "zelda@example.com", password = "i am zelda forever" });
        Assert.Contains("username", (await JsonAsync(withName)).GetProperty("error_description").GetString(), StringComparison.Ordinal);
        var notEmail = await client.PostAsJsonAsync("/v1/users", new { username = "just-a-name", password = "a fine passphrase" });
        Assert.Equal(HttpStatusCode.BadRequest, notEmail.StatusCode);
        await EnsureSuccessAsync(await client.PostAsJsonAsync("/v1/users", new { username = "Dup@example.com", password = "a fine passphrase" }));
        var dup = await client.PostAsJsonAsync("/v1/users", new { username = "dup@EXAMPLE.com", password = "a fine passphrase" });
        Assert.Equal(HttpStatusCode.BadRequest, dup.StatusCode);
        Assert.Equal("username_taken", (await JsonAsync(dup)).GetProperty("error").GetString());
    }
}
