using System.Net;
using System.Net.Http.Json;
using System.Text;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Auth;

public class BadInputTests : IAsyncLifetime
{
    private BulwarkTestServer _server = null!;

    public async Task InitializeAsync() => _server = await BulwarkTestServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    private async Task AssertJsonErrorAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.StartsWith("application/json", response.Content.Headers.ContentType?.ToString(), StringComparison.Ordinal);
        var body = await JsonAsync(response);
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error").GetString()));
        Assert.False(string.IsNullOrEmpty(body.GetProperty("error_description").GetString()));
        // The server stays up after every refusal.
        using var health = _server.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz")).StatusCode);
    }

    [Fact]
    public async Task Malformed_json() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsync("/v1/users", new StringContent("{\"username\": ", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);

    [Fact]
    public async Task Json_that_is_not_an_object() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsync("/v1/users", new StringContent("[1,2]", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);

    [Fact]
    public async Task Wrong_field_types() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsync("/v1/users", new StringContent("{\"username\": {\"a\":1}, \"password\": 5}", Encoding.UTF8, "application/json")), HttpStatusCode.BadRequest);

    [Fact]
    public async Task Missing_fields() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsJsonAsync("/v1/users", new { password = "a fine passphrase" }), HttpStatusCode.BadRequest);

    [Fact]
    public async Task Oversized_body()
    {
        var big = new string('x', 2 * 1024 * 1024);
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsync("/v1/users", new StringContent("{\"username\":\"" + big + "\"}", Encoding.UTF8, "application/json")), HttpStatusCode.RequestEntityTooLarge);
    }

    [Fact]
    public async Task Wrong_content_type() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsync("/v1/users", new StringContent("username=x", Encoding.UTF8, "text/plain")), HttpStatusCode.UnsupportedMediaType);

    [Fact]
    public async Task Oauth_token_only_takes_forms() =>
        await AssertJsonErrorAsync(await _server.CreateClient().PostAsJsonAsync("/oauth/token", new { grant_type = "password", username = "a", password = "b" }), HttpStatusCode.UnsupportedMediaType);

    [Fact]
    public async Task Unknown_grant_type()
    {
        var response = await _server.CreateClient().PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string> { ["grant_type"] = "magic" }));
        await AssertJsonErrorAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Bad_expires_in()
    {
        var response = await _server.CreateClient().PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = "a@example.com", ["password"] = "whatever it is", ["expires_in"] = "soon",
        }));
        await AssertJsonErrorAsync(response, HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task Unknown_route_and_wrong_method()
    {
        await AssertJsonErrorAsync(await _server.CreateClient().GetAsync("/v1/nothing-here"), HttpStatusCode.NotFound);
        await AssertJsonErrorAsync(await _server.CreateClient().PatchAsync("/oauth/token", null), HttpStatusCode.MethodNotAllowed);
    }

    [Fact]
    public async Task No_token_and_garbage_token()
    {
        await AssertJsonErrorAsync(await _server.CreateClient().GetAsync("/v1/user"), HttpStatusCode.Unauthorized);
        await AssertJsonErrorAsync(await _server.CreateClient("bwk_not-a-real-token").GetAsync("/v1/user"), HttpStatusCode.Unauthorized);
        await AssertJsonErrorAsync(await _server.CreateClient(new string('a', 5000)).GetAsync("/v1/user"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_failed_sign_up_writes_nothing()
    {
        var username = $"half-{Guid.NewGuid():N}@example.com";
        await _server.CreateClient().PostAsJsonAsync("/v1/users", new { username, password = "password" });
        var retry = await _server.CreateClient().PostAsJsonAsync("/v1/users", new { username, password = "a fine passphrase" });
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
    }
}
