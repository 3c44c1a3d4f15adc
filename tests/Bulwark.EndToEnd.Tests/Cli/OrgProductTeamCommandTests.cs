using System.Text.Json;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary><c>bulwark org|product|team|api-user|audit</c> against the real server: an organization, a product in it,
/// its settings, a second person on its team, an API user whose token does exactly its scopes, and the audit log.</summary>
public sealed class OrgProductTeamCommandTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Org_product_team_api_user_and_audit_commands_work_end_to_end()
    {
        var (owner, password) = await Accounts.SignUpAsync(fixture.Server);
        var (colleague, _) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", owner, "-p", password)).ExitCode);

        // Organization.
        var slug = "acme-" + Guid.NewGuid().ToString("N")[..8];
        var org = await Ok(cli, "org", "create", "Acme Devices", "--slug", slug, "--json");
        Assert.Equal(slug, Json(org).GetProperty("slug").GetString());
        Assert.Contains(slug, (await Ok(cli, "org", "list")).Stdout, StringComparison.Ordinal);
        var renamed = await Ok(cli, "org", "update", slug, "--name", "Acme Renamed");
        Assert.Contains("Acme Renamed", renamed.Stdout, StringComparison.Ordinal);
        Assert.Equal("Acme Renamed", Json(await Ok(cli, "org", "get", slug, "--json")).GetProperty("name").GetString());

        // Product in it, by platform name.
        var created = Json(await Ok(cli, "product", "create", "--name", "Field Sensors", "--platform", "boron", "--org", slug,
            "--description", "Sensors in the field", "--json"));
        var productId = created.GetProperty("id").GetInt32().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(13, created.GetProperty("platform_id").GetInt32());
        Assert.Equal(slug, created.GetProperty("org").GetString());
        Assert.Contains("Field Sensors", (await Ok(cli, "product", "list", "--org", slug)).Stdout, StringComparison.Ordinal);
        Assert.Contains(productId, (await Ok(cli, "product", "list")).Stdout, StringComparison.Ordinal);
        var get = await Ok(cli, "product", "get", productId);
        Assert.Contains("Sensors in the field", get.Stdout, StringComparison.Ordinal);

        // Settings: show, then update the unrecognized-device policy and the name.
        Assert.Contains("quarantine", (await Ok(cli, "product", "settings", productId)).Stdout, StringComparison.Ordinal);
        var updated = await Ok(cli, "product", "settings", productId, "--unrecognized-devices", "auto-approve", "--name", "Field Sensors v2");
        Assert.Contains("auto-approve", updated.Stdout, StringComparison.Ordinal);
        var after = Json(await Ok(cli, "product", "get", productId, "--json"));
        Assert.Equal("auto-approve", after.GetProperty("settings").GetProperty("unrecognized_devices").GetString());
        Assert.Equal("Field Sensors v2", after.GetProperty("name").GetString());

        // Team: invite as Support, change the role, list shows role and 2FA.
        var invite = await Ok(cli, "team", "invite", colleague, "--product", productId, "--role", "support");
        Assert.Contains("Support", invite.Stdout, StringComparison.Ordinal);
        var role = await Ok(cli, "team", "role", colleague, "view-only", "--product", productId);
        Assert.Contains("View-only", role.Stdout, StringComparison.Ordinal);
        var list = await Ok(cli, "team", "list", "--product", productId);
        var line = Assert.Single(list.Stdout.Split('\n'), l => l.Contains(colleague, StringComparison.Ordinal));
        Assert.Contains("View-only", line, StringComparison.Ordinal);
        Assert.Matches(@"View-only\s+no\s+", line);
        Assert.Contains("2FA", list.Stdout, StringComparison.Ordinal);
        var listJson = Json(await Ok(cli, "team", "list", "--product", productId, "--json"));
        var member = listJson.EnumerateArray().Single(m => m.GetProperty("username").GetString() == colleague);
        Assert.Equal("View-only", member.GetProperty("role").GetProperty("name").GetString());
        Assert.True(member.GetProperty("no_mfa").GetBoolean());

        // API user: the printed token reads the product but cannot change its settings.
        var apiUser = await Ok(cli, "api-user", "create", "--product", productId, "--name", "ci", "--scope", "products:get", "--scope", "devices:list");
        var token = apiUser.Stdout.Trim();
        Assert.DoesNotContain('\n', token);
        Assert.NotEmpty(token);
        var asApiUser = await cli.RunAsync("product", "get", productId, "--token", token, "--json");
        Assert.True(asApiUser.ExitCode == 0, asApiUser.ToString());
        var denied = await cli.RunAsync("product", "settings", productId, "--unrecognized-devices", "quarantine", "--token", token);
        Assert.True(denied.ExitCode == 4, denied.ToString());
        Assert.StartsWith("error: ", denied.Stderr, StringComparison.Ordinal);
        var apiUsers = Json(await Ok(cli, "api-user", "list", "--product", productId, "--json"));
        var apiUsername = Assert.Single(apiUsers.EnumerateArray()).GetProperty("username").GetString()!;
        Assert.Contains("products:get", (await Ok(cli, "api-user", "list", "--product", productId)).Stdout, StringComparison.Ordinal);

        // Regenerate: the old token stops working, the new one works.
        var regenerated = await Ok(cli, "api-user", "regenerate", apiUsername, "--product", productId);
        var newToken = regenerated.Stdout.Trim();
        Assert.NotEqual(token, newToken);
        var old = await cli.RunAsync("product", "get", productId, "--token", token);
        Assert.True(old.ExitCode == 3, old.ToString());
        Assert.Equal(0, (await cli.RunAsync("product", "get", productId, "--token", newToken)).ExitCode);

        // Delete: its token is gone too.
        await Ok(cli, "api-user", "delete", apiUsername, "--product", productId);
        var deleted = await cli.RunAsync("product", "get", productId, "--token", newToken);
        Assert.True(deleted.ExitCode is 3 or 4, deleted.ToString());
        Assert.Empty(Json(await Ok(cli, "api-user", "list", "--product", productId, "--json")).EnumerateArray());

        // Audit: the invite is there, filterable by event and actor, on the product and on the organization.
        var audit = Json(await Ok(cli, "audit", "list", "--product", productId, "--event", "TeamMemberInvited", "--json"));
        var invited = Assert.Single(audit.GetProperty("events").EnumerateArray());
        Assert.Contains(colleague, invited.GetProperty("details").GetString(), StringComparison.Ordinal);
        Assert.Equal(owner, invited.GetProperty("actor").GetString());
        var orgAudit = await Ok(cli, "audit", "list", "--org", slug, "--actor", owner, "--limit", "50");
        Assert.Contains("TeamMemberInvited", orgAudit.Stdout, StringComparison.Ordinal);
        Assert.Contains("TeamMemberRoleChanged", orgAudit.Stdout, StringComparison.Ordinal);
        var future = Json(await Ok(cli, "audit", "list", "--product", productId, "--since", DateTime.UtcNow.AddDays(1).ToString("O"), "--json"));
        Assert.Empty(future.GetProperty("events").EnumerateArray());

        // Remove: the colleague is off the team.
        await Ok(cli, "team", "remove", colleague, "--product", productId);
        Assert.DoesNotContain(colleague, (await Ok(cli, "team", "list", "--product", productId)).Stdout, StringComparison.Ordinal);

        // Errors.
        await Fails(cli, 2, "team", "role", colleague, "Superuser", "--product", productId);
        await Fails(cli, 2, "team", "invite", colleague, "--product", productId, "--role", "nobody");
        await Fails(cli, 2, "team", "list");
        await Fails(cli, 2, "team", "list", "--product", productId, "--org", slug);
        await Fails(cli, 2, "product", "settings", productId, "--unrecognized-devices", "sometimes");
        await Fails(cli, 2, "audit", "list", "--actor", owner);
        await Fails(cli, 2, "product", "create", "--name", "X", "--platform", "toaster");
        await Fails(cli, 5, "product", "get", "999999999");
        await Fails(cli, 5, "product", "settings", "no-such-product-" + Guid.NewGuid().ToString("N")[..8]);
        await Fails(cli, 5, "team", "list", "--org", "no-such-org-" + Guid.NewGuid().ToString("N")[..8]);
        await Fails(cli, 5, "team", "role", "nobody@example.com", "Developer", "--product", productId);
        var badScope = await Fails(cli, 1, "api-user", "create", "--product", productId, "--name", "x", "--scope", "bogus:scope");
        Assert.Contains("bogus:scope", badScope.Stderr, StringComparison.Ordinal);
    }

    private static async Task<CliResult> Ok(CliRunner cli, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == 0, string.Join(' ', args) + "\n" + result);
        return result;
    }

    private static async Task<CliResult> Fails(CliRunner cli, int exitCode, params string[] args)
    {
        var result = await cli.RunAsync(args);
        Assert.True(result.ExitCode == exitCode, string.Join(' ', args) + "\n" + result);
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
        return result;
    }

    private static JsonElement Json(CliResult result) => JsonDocument.Parse(result.Stdout).RootElement;
}
