using Bulwark.Server.Tests.Features.Teams;
using Bulwark.Server.Tests.Infrastructure;

namespace Bulwark.Server.Tests.Features.Organizations;

public class OrganizationTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Organizations_are_created_listed_and_found_by_id_or_slug(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var outsider = await server.CreateUserAsync();
        var slug = "acme-" + Guid.NewGuid().ToString("N")[..8];
        var created = await server.OkAsync(owner.Token, "POST", "/v1/orgs", new { name = "Acme", slug });
        var id = created.GetProperty("organization").GetProperty("id").GetString()!;
        Assert.Equal(slug, created.GetProperty("organization").GetProperty("slug").GetString());
        Assert.False(created.GetProperty("organization").GetProperty("require_mfa").GetBoolean());

        foreach (var idOrSlug in new[] { id, slug })
        {
            Assert.Equal(id, (await server.OkAsync(owner.Token, "GET", $"/v1/orgs/{idOrSlug}")).GetProperty("organization").GetProperty("id").GetString());
            Assert.Equal(404, (await server.SendAsync(outsider.Token, "GET", $"/v1/orgs/{idOrSlug}")).Status);
        }
        var list = await server.OkAsync(owner.Token, "GET", "/v1/orgs");
        Assert.Equal([id], list.GetProperty("organizations").EnumerateArray().Select(o => o.GetProperty("id").GetString()));
        Assert.Empty((await server.OkAsync(outsider.Token, "GET", "/v1/orgs")).GetProperty("organizations").EnumerateArray());

        var team = await server.OkAsync(owner.Token, "GET", $"/v1/orgs/{slug}/team");
        Assert.Equal("Owner", team.GetProperty("team")[0].GetProperty("role").GetProperty("name").GetString());

        var (status, body) = await server.SendAsync(outsider.Token, "POST", "/v1/orgs", new { name = "Copycat", slug });
        Assert.Equal((409, "slug_taken"), (status, body.Error()));
        (status, body) = await server.SendAsync(outsider.Token, "POST", "/v1/orgs", new { name = "" });
        Assert.Equal(400, status);
        (status, body) = await server.SendAsync(outsider.Token, "POST", "/v1/orgs", new { name = "Hex", slug = "0123456789abcdef01234567" });
        Assert.Equal((400, "invalid_slug"), (status, body.Error()));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Organization_creation_can_be_kept_to_server_administrators(string provider)
    {
        var adminName = $"admin-{Guid.NewGuid():N}@example.com";
        await using var server = await BulwarkTestServer.StartAsync(provider, new Dictionary<string, string?>
        {
            ["Bulwark:OrganizationCreation"] = "server-admins",
            ["Bulwark:ServerAdmins:0"] = adminName.ToUpperInvariant(),
        });
        var admin = await server.CreateUserAsync(adminName);
        var someone = await server.CreateUserAsync();
        var (status, body) = await server.SendAsync(someone.Token, "POST", "/v1/orgs", new { name = "Shadow IT" });
        Assert.Equal(403, status);
        Assert.Contains("administrators", body.Description(), StringComparison.Ordinal);
        Assert.Equal(201, (await server.SendAsync(admin.Token, "POST", "/v1/orgs", new { name = "Sanctioned" })).Status);
    }
}
