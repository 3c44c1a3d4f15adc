using Bulwark.Server.Tests.Features.Auth;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Bulwark.Server.Tests.Features.Teams;

public class TeamTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Removing_a_member_ends_their_access_on_every_token_at_once(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var dev = await server.CreateUserAsync();
        var orgId = await server.CreateOrgAsync(owner);
        var productId = await server.CreateProductAsync(owner, orgId);
        await server.InviteAsync(owner, $"/v1/orgs/{orgId}/team", dev, "Developer");
        var secondToken = await server.LoginAsync(dev.Username, dev.Password);
        foreach (var token in new[] { dev.Token, secondToken })
        {
            Assert.Equal(200, (await server.SendAsync(token, "GET", $"/v1/products/{productId}")).Status);
            Assert.Equal(200, (await server.SendAsync(token, "GET", $"/v1/orgs/{orgId}")).Status);
        }

        await server.OkAsync(owner.Token, "DELETE", $"/v1/orgs/{orgId}/team/{Uri.EscapeDataString(dev.Username)}");

        foreach (var token in new[] { dev.Token, secondToken })
        {
            Assert.Equal(404, (await server.SendAsync(token, "GET", $"/v1/products/{productId}")).Status);
            Assert.Equal(404, (await server.SendAsync(token, "GET", $"/v1/orgs/{orgId}")).Status);
            // The account itself is untouched.
            Assert.Equal(200, (await server.SendAsync(token, "GET", "/v1/user")).Status);
        }
        var products = await server.OkAsync(dev.Token, "GET", "/v1/products");
        Assert.Empty(products.GetProperty("products").EnumerateArray());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Leaving_an_organization_ends_product_memberships_in_it(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var member = await server.CreateUserAsync();
        var orgId = await server.CreateOrgAsync(owner);
        var productId = await server.CreateProductAsync(owner, orgId);
        await server.InviteAsync(owner, $"/v1/orgs/{orgId}/team", member, "View-only");
        await server.InviteAsync(owner, $"/v1/products/{productId}/team", member, "Administrator");
        Assert.Equal(200, (await server.SendAsync(member.Token, "GET", $"/v1/products/{productId}/audit")).Status);
        await server.OkAsync(owner.Token, "DELETE", $"/v1/orgs/{orgId}/team/{Uri.EscapeDataString(member.Username)}");
        Assert.Equal(404, (await server.SendAsync(member.Token, "GET", $"/v1/products/{productId}")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task An_api_user_does_exactly_its_scopes_on_exactly_its_product_and_outlives_its_creator(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var admin = await server.CreateUserAsync();
        var orgId = await server.CreateOrgAsync(owner);
        var productId = await server.CreateProductAsync(owner, orgId);
        var otherProductId = await server.CreateProductAsync(owner, orgId);
        var ownProductId = await server.CreateProductAsync(admin);
        await server.InviteAsync(owner, $"/v1/orgs/{orgId}/team", admin, "Administrator");

        var (username, token) = await server.CreateApiUserAsync(admin.Token, $"/v1/products/{productId}/team", "products:get", "products:list");
        Assert.EndsWith("@api.particle.io", username, StringComparison.Ordinal);
        Assert.StartsWith("test-robot+", username, StringComparison.Ordinal);

        Assert.Equal(200, (await server.SendAsync(token, "GET", $"/v1/products/{productId}")).Status);
        Assert.Equal(403, (await server.SendAsync(token, "GET", $"/v1/products/{productId}/team")).Status);
        Assert.Equal(403, (await server.SendAsync(token, "PUT", $"/v1/products/{productId}", new { name = "x" })).Status);
        // Nothing of its creator's other rights: not the organization, not its other products, not the creator's own product.
        Assert.Equal(404, (await server.SendAsync(token, "GET", $"/v1/orgs/{orgId}")).Status);
        Assert.Equal(404, (await server.SendAsync(token, "GET", $"/v1/products/{otherProductId}")).Status);
        Assert.Equal(404, (await server.SendAsync(token, "GET", $"/v1/products/{ownProductId}")).Status);
        var listed = await server.OkAsync(token, "GET", "/v1/products");
        Assert.Equal([productId], listed.GetProperty("products").EnumerateArray().Select(p => p.GetProperty("id").GetInt32()));

        // Not a person: no user-account endpoints, no password login, no organization creation.
        var (status, body) = await server.SendAsync(token, "GET", "/v1/user");
        Assert.Equal(403, status);
        Assert.Equal("unauthorized", body.Error());
        Assert.Equal("API users are not allowed to call this endpoint", body.Description());
        Assert.Equal(403, (await server.SendAsync(token, "PUT", "/v1/user", new { account_info = new { first_name = "x" } })).Status);
        Assert.Equal(403, (await server.SendAsync(token, "GET", "/v1/user/products")).Status);
        Assert.Equal(403, (await server.SendAsync(token, "POST", "/v1/orgs", new { name = "Robots" })).Status);
        using (var client = server.CreateClient())
        {
            var login = await client.PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "password", ["username"] = username, ["password"] = "anything", ["client_id"] = "particle-api",
            }));
            Assert.Equal(403, (int)login.StatusCode);
            var refusal = await BulwarkTestServer.JsonAsync(login);
            Assert.Equal("unauthorized", refusal.Error());
            Assert.Equal("API users are not allowed to call this endpoint", refusal.Description());
        }

        // The person who made it leaves; the API user keeps working.
        await server.OkAsync(owner.Token, "DELETE", $"/v1/orgs/{orgId}/team/{Uri.EscapeDataString(admin.Username)}");
        Assert.Equal(404, (await server.SendAsync(admin.Token, "GET", $"/v1/products/{productId}")).Status);
        Assert.Equal(200, (await server.SendAsync(token, "GET", $"/v1/products/{productId}")).Status);

        // Regenerate: the old token dies at once, the new one works.
        var regenerated = await server.OkAsync(owner.Token, "POST", $"/v1/products/{productId}/team/{Uri.EscapeDataString(username)}/token");
        var newToken = regenerated.GetProperty("updated").GetProperty("tokens")[0].GetProperty("token").GetString()!;
        Assert.Equal(401, (await server.SendAsync(token, "GET", $"/v1/products/{productId}")).Status);
        Assert.Equal(200, (await server.SendAsync(newToken, "GET", $"/v1/products/{productId}")).Status);

        // New scopes come with a new token.
        var updated = await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}/team/{Uri.EscapeDataString(username)}",
            new { scopes = new[] { "products:get", "teams.users:list" } });
        var thirdToken = updated.GetProperty("updated").GetProperty("tokens")[0].GetProperty("token").GetString()!;
        Assert.Equal(401, (await server.SendAsync(newToken, "GET", $"/v1/products/{productId}")).Status);
        Assert.Equal(200, (await server.SendAsync(thirdToken, "GET", $"/v1/products/{productId}/team")).Status);

        // Delete: gone.
        await server.OkAsync(owner.Token, "DELETE", $"/v1/products/{productId}/team/{Uri.EscapeDataString(username)}");
        Assert.Equal(401, (await server.SendAsync(thirdToken, "GET", $"/v1/products/{productId}")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task The_team_view_shows_roles_two_step_status_activity_and_tokens(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var support = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner);
        var invited = await server.OkAsync(owner.Token, "POST", $"/v1/products/{productId}/team", new { username = support.Username, role = "Support" });
        Assert.True(invited.GetProperty("ok").GetBoolean());
        Assert.Equal(support.Username, invited.GetProperty("invited").GetProperty("username").GetString());
        Assert.Equal("Support", invited.GetProperty("invited").GetProperty("role").GetProperty("name").GetString());
        var defaultRole = await server.CreateUserAsync();
        var defaulted = await server.OkAsync(owner.Token, "POST", $"/v1/products/{productId}/team", new { username = defaultRole.Username });
        Assert.Equal("Developer", defaulted.GetProperty("invited").GetProperty("role").GetProperty("name").GetString());
        var (apiName, _) = await server.CreateApiUserAsync(owner.Token, $"/v1/products/{productId}/team", "devices:list");
        await server.LoginAsync(support.Username, support.Password);

        var team = await server.OkAsync(support.Token, "GET", $"/v1/products/{productId}/team");
        Assert.True(team.GetProperty("ok").GetBoolean());
        var members = team.GetProperty("team").EnumerateArray().ToDictionary(m => m.GetProperty("username").GetString()!);
        Assert.Equal(4, members.Count);
        var supportRow = members[support.Username];
        Assert.Equal("Support", supportRow.GetProperty("role").GetProperty("name").GetString());
        Assert.Equal("support", supportRow.GetProperty("role").GetProperty("id").GetString());
        Assert.True(supportRow.GetProperty("no_mfa").GetBoolean());
        Assert.False(supportRow.GetProperty("is_programmatic").GetBoolean());
        Assert.Equal(2, supportRow.GetProperty("token_count").GetInt32());
        Assert.True(supportRow.TryGetProperty("_id", out _));
        Assert.True(supportRow.TryGetProperty("last_active_at", out _));
        Assert.Equal("Owner", members[owner.Username].GetProperty("role").GetProperty("name").GetString());
        var apiRow = members[apiName];
        Assert.True(apiRow.GetProperty("is_programmatic").GetBoolean());
        Assert.Equal("Test robot", apiRow.GetProperty("friendly_name").GetString());
        Assert.Equal(["devices:list"], apiRow.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        Assert.Equal(productId, apiRow.GetProperty("product_id").GetInt32());
        Assert.Equal(1, apiRow.GetProperty("token_count").GetInt32());
        Assert.False(apiRow.TryGetProperty("role", out _));
        Assert.Equal(apiName, team.GetProperty("team")[3].GetProperty("username").GetString());
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Bad_team_input_gets_a_clear_error(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var admin = await server.CreateUserAsync();
        var someone = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner);
        var team = $"/v1/products/{productId}/team";
        await server.InviteAsync(owner, team, admin, "Administrator");

        var (status, body) = await server.SendAsync(owner.Token, "POST", team, new { username = someone.Username, role = "Boss" });
        Assert.Equal((400, "invalid_role"), (status, body.Error()));
        Assert.Contains("View-only", body.Description(), StringComparison.Ordinal);
        (status, body) = await server.SendAsync(owner.Token, "PUT", $"{team}/{Uri.EscapeDataString(admin.Username)}", new { role = "root" });
        Assert.Equal((400, "invalid_role"), (status, body.Error()));
        (status, body) = await server.SendAsync(owner.Token, "POST", team, new { friendly_name = "bot", scopes = new[] { "devices:list", "devices:explode" } });
        Assert.Equal((400, "invalid_scope"), (status, body.Error()));
        Assert.Contains("devices:explode", body.Description(), StringComparison.Ordinal);
        (status, body) = await server.SendAsync(owner.Token, "POST", team, new { friendly_name = "bot", scopes = Array.Empty<string>() });
        Assert.Equal((400, "invalid_scope"), (status, body.Error()));
        (status, body) = await server.SendAsync(owner.Token, "POST", team, new { username = "nobody-" + Guid.NewGuid() + "@example.com" });
        Assert.Equal(404, status);
        (status, body) = await server.SendAsync(owner.Token, "POST", team, new { username = admin.Username });
        Assert.Equal((409, "already_member"), (status, body.Error()));
        (status, _) = await server.SendAsync(owner.Token, "DELETE", $"{team}/{Uri.EscapeDataString(someone.Username)}");
        Assert.Equal(404, status);

        // The last Owner can be neither removed nor demoted, by anyone.
        var ownerPath = $"{team}/{Uri.EscapeDataString(owner.Username)}";
        (status, body) = await server.SendAsync(owner.Token, "DELETE", ownerPath);
        Assert.Equal((400, "last_owner"), (status, body.Error()));
        (status, body) = await server.SendAsync(owner.Token, "PUT", ownerPath, new { role = "Developer" });
        Assert.Equal((400, "last_owner"), (status, body.Error()));
        // An Administrator touches no Owner and makes none.
        Assert.Equal(403, (await server.SendAsync(admin.Token, "DELETE", ownerPath)).Status);
        Assert.Equal(403, (await server.SendAsync(admin.Token, "PUT", $"{team}/{Uri.EscapeDataString(admin.Username)}", new { role = "Owner" })).Status);

        // Handing over the root account: make another Owner, then step down.
        await server.OkAsync(owner.Token, "PUT", $"{team}/{Uri.EscapeDataString(admin.Username)}", new { role = "Owner" });
        await server.OkAsync(owner.Token, "PUT", ownerPath, new { role = "View-only" });
        Assert.Equal(403, (await server.SendAsync(owner.Token, "PUT", $"/v1/products/{productId}", new { name = "renamed" })).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Nobody_hands_out_more_than_they_hold(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var someone = await server.CreateUserAsync();
        var productId = await server.CreateProductAsync(owner);
        var team = $"/v1/products/{productId}/team";
        var (_, inviter) = await server.CreateApiUserAsync(owner.Token, team, "teams.users:invite", "teams.users:update", "devices:list");

        var (status, body) = await server.SendAsync(inviter, "POST", team, new { friendly_name = "escalator", scopes = new[] { "firmware:release" } });
        Assert.Equal(403, status);
        Assert.Contains("firmware:release", body.Description(), StringComparison.Ordinal);
        Assert.Equal(403, (await server.SendAsync(inviter, "POST", team, new { username = someone.Username, role = "View-only" })).Status);
        var (ok, _) = await server.SendAsync(inviter, "POST", team, new { friendly_name = "narrow", scopes = new[] { "devices:list" } });
        Assert.Equal(200, ok);

        // Nor take a token for an API user stronger than itself.
        var (strongName, _) = await server.CreateApiUserAsync(owner.Token, team, "firmware:release");
        Assert.Equal(403, (await server.SendAsync(inviter, "POST", $"{team}/{Uri.EscapeDataString(strongName)}/token")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task An_organization_can_require_two_step_authentication(string provider)
    {
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        await using var server = await BulwarkTestServer.StartAsync(provider, configure: b => b.Services.AddSingleton<TimeProvider>(clock));
        var owner = await server.CreateUserAsync();
        var member = await server.CreateUserAsync();
        var orgId = await server.CreateOrgAsync(owner);
        var productId = await server.CreateProductAsync(owner, orgId);
        await server.InviteAsync(owner, $"/v1/orgs/{orgId}/team", member, "Developer");
        var (_, robot) = await server.CreateApiUserAsync(owner.Token, $"/v1/orgs/{orgId}/team", "products:get", "organization:get");

        var (status, body) = await server.SendAsync(owner.Token, "PUT", $"/v1/orgs/{orgId}", new { require_mfa = true });
        Assert.Equal((400, "mfa_not_enabled"), (status, body.Error()));
        await MfaTests.EnrollAsync(server, owner, clock);
        var org = await server.OkAsync(owner.Token, "PUT", $"/v1/orgs/{orgId}", new { require_mfa = true });
        Assert.True(org.GetProperty("organization").GetProperty("require_mfa").GetBoolean());

        (status, body) = await server.SendAsync(member.Token, "GET", $"/v1/products/{productId}");
        Assert.Equal((403, "mfa_required_by_organization"), (status, body.Error()));
        Assert.Equal(403, (await server.SendAsync(member.Token, "GET", $"/v1/orgs/{orgId}")).Status);
        Assert.Equal(200, (await server.SendAsync(owner.Token, "GET", $"/v1/products/{productId}")).Status);
        Assert.Equal(200, (await server.SendAsync(robot, "GET", $"/v1/products/{productId}")).Status);
        var team = await server.OkAsync(owner.Token, "GET", $"/v1/orgs/{orgId}/team");
        var chase = team.GetProperty("team").EnumerateArray().Where(m => m.GetProperty("no_mfa").GetBoolean()).Select(m => m.GetProperty("username").GetString());
        Assert.Equal([member.Username], chase);

        await MfaTests.EnrollAsync(server, member, clock);
        Assert.Equal(200, (await server.SendAsync(member.Token, "GET", $"/v1/products/{productId}")).Status);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Every_change_is_in_the_product_and_organization_audit_log(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var owner = await server.CreateUserAsync();
        var dev = await server.CreateUserAsync();
        var orgId = await server.CreateOrgAsync(owner);
        var productId = await server.CreateProductAsync(owner, orgId);
        var team = $"/v1/products/{productId}/team";
        await server.InviteAsync(owner, team, dev, "Developer");
        await server.OkAsync(owner.Token, "PUT", $"{team}/{Uri.EscapeDataString(dev.Username)}", new { role = "Support" });
        var (robot, _) = await server.CreateApiUserAsync(owner.Token, team, "devices:list");
        await server.OkAsync(owner.Token, "POST", $"{team}/{Uri.EscapeDataString(robot)}/token");
        await server.OkAsync(owner.Token, "DELETE", $"{team}/{Uri.EscapeDataString(robot)}");
        await server.OkAsync(owner.Token, "DELETE", $"{team}/{Uri.EscapeDataString(dev.Username)}");
        await server.OkAsync(owner.Token, "PUT", $"/v1/products/{productId}", new { settings = new { unrecognized_devices = "auto-approve" } });
        await server.OkAsync(owner.Token, "PUT", $"/v1/orgs/{orgId}", new { name = "Renamed" });

        var log = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/audit");
        var events = log.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Equal(["ProductUpdated", "TeamMemberRemoved", "ApiUserDeleted", "ApiUserTokenRegenerated", "ApiUserCreated", "TeamMemberRoleChanged",
            "TeamMemberInvited", "ProductCreated"], events);
        var first = log.GetProperty("events")[0];
        Assert.Equal(owner.Username, first.GetProperty("actor").GetString());
        Assert.Equal("127.0.0.1", first.GetProperty("ip_address").GetString());
        Assert.Contains("auto-approve", first.GetProperty("details").GetString(), StringComparison.Ordinal);

        var changed = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/audit?event=TeamMemberRoleChanged");
        var row = Assert.Single(changed.GetProperty("events").EnumerateArray());
        Assert.Contains(dev.Username, row.GetProperty("details").GetString(), StringComparison.Ordinal);
        var aboutDev = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/audit?target={Uri.EscapeDataString(dev.Username)}");
        Assert.Equal(3, aboutDev.GetProperty("events").GetArrayLength());
        var limited = await server.OkAsync(owner.Token, "GET", $"/v1/products/{productId}/audit?limit=2&actor={Uri.EscapeDataString(owner.Username)}");
        Assert.Equal(2, limited.GetProperty("events").GetArrayLength());
        Assert.Equal(400, (await server.SendAsync(owner.Token, "GET", $"/v1/products/{productId}/audit?event=Nonsense")).Status);

        var orgLog = await server.OkAsync(owner.Token, "GET", $"/v1/orgs/{orgId}/audit");
        var orgEvents = orgLog.GetProperty("events").EnumerateArray().Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Equal("OrganizationUpdated", orgEvents[0]);
        Assert.Contains("ProductCreated", orgEvents);
        Assert.Contains("OrganizationCreated", orgEvents);
        Assert.Contains("TeamMemberInvited", orgEvents);
    }
}
