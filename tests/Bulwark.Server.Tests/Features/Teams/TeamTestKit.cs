using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Bulwark.Contracts;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Teams;

/// <summary>Small helpers for making organizations, products, members and API users through the real API.</summary>
internal static class TeamTestKit
{
    public static async Task<(int Status, JsonElement Body)> SendAsync(this BulwarkTestServer server, string? token, string method, string path, object? body = null)
    {
        using var client = server.CreateClient(token);
        using var request = new HttpRequestMessage(new HttpMethod(method), path);
        if (body is not null)
        {
            request.Content = new StringContent(JsonSerializer.Serialize(body, ApiJson.Options), Encoding.UTF8, "application/json");
        }
        using var response = await client.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return ((int)response.StatusCode, text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone());
    }

    public static async Task<JsonElement> OkAsync(this BulwarkTestServer server, string? token, string method, string path, object? body = null)
    {
        var (status, json) = await server.SendAsync(token, method, path, body);
        Assert.True(status is >= 200 and < 300, $"{method} {path}: {status} {json}");
        return json;
    }

    public static async Task<string> CreateOrgAsync(this BulwarkTestServer server, TestUser owner, string? slug = null)
    {
        slug ??= "org-" + Guid.NewGuid().ToString("N")[..10];
        var body = await server.OkAsync(owner.Token, "POST", "/v1/orgs", new { name = "Org " + slug, slug });
        return body.GetProperty("organization").GetProperty("id").GetString()!;
    }

    /// <summary>A product owned by the user (<paramref name="orgId"/> null) or by the organization; answers its id.</summary>
    public static async Task<int> CreateProductAsync(this BulwarkTestServer server, TestUser creator, string? orgId = null, int platformId = 13, string? slug = null)
    {
        var name = "Product " + Guid.NewGuid().ToString("N")[..10];
        var body = await server.OkAsync(creator.Token, "POST", orgId is null ? "/v1/user/products" : $"/v1/orgs/{orgId}/products",
            new { product = new { name, platform_id = platformId, slug } });
        return body.GetProperty("product").GetProperty("id").GetInt32();
    }

    public static Task<JsonElement> InviteAsync(this BulwarkTestServer server, TestUser by, string teamPath, TestUser who, string role) =>
        server.OkAsync(by.Token, "POST", teamPath, new { username = who.Username, role });

    /// <summary>Creates an API user; answers its username and its token.</summary>
    public static async Task<(string Username, string Token)> CreateApiUserAsync(this BulwarkTestServer server, string creatorToken, string teamPath, params string[] scopes)
    {
        var body = await server.OkAsync(creatorToken, "POST", teamPath, new { friendly_name = "Test robot", scopes });
        var created = body.GetProperty("created");
        return (created.GetProperty("username").GetString()!, created.GetProperty("tokens")[0].GetProperty("token").GetString()!);
    }

    public static string Error(this JsonElement body) => body.GetProperty("error").GetString()!;

    public static string Description(this JsonElement body) => body.GetProperty("error_description").GetString()!;
}
