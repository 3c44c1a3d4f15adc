using System.Text.Json;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary><c>bulwark token create|list|revoke</c> against the real server.</summary>
public sealed class TokenTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Create_list_and_revoke_tokens()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);

        // A scriptable token: alone on stdout; the username comes from the login.
        var hourly = await cli.RunAsync("token", "create", "--expires-in", "3600", "--password", password);
        Assert.True(hourly.ExitCode == 0, hourly.ToString());
        var hourlyToken = hourly.Stdout.Trim();
        Assert.DoesNotContain('\n', hourlyToken);
        Assert.Contains("expires", hourly.Stderr, StringComparison.Ordinal);

        var forever = await cli.RunAsync("token", "create", "--never-expires", "--password", password, "--json");
        Assert.True(forever.ExitCode == 0, forever.ToString());
        var foreverJson = JsonDocument.Parse(forever.Stdout).RootElement;
        Assert.Equal(JsonValueKind.Null, foreverJson.GetProperty("expires_at").ValueKind);
        var foreverToken = foreverJson.GetProperty("access_token").GetString()!;

        var whoamiWithNew = await cli.RunAsync("whoami", "--token", hourlyToken);
        Assert.Equal(username, whoamiWithNew.Stdout.Trim());

        var list = await cli.RunWithInputAsync([password], "token", "list", "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var tokens = JsonDocument.Parse(list.Stdout).RootElement.EnumerateArray().ToList();
        Assert.Equal(3, tokens.Count);
        Assert.Single(tokens, t => t.GetProperty("current").GetBoolean());
        Assert.Single(tokens, t => t.GetProperty("expires_at").ValueKind == JsonValueKind.Null);
        Assert.All(tokens, t => Assert.Equal("bulwark-cli", t.GetProperty("client").GetString()));

        var table = await cli.RunAsync("token", "list", "--password", password);
        Assert.Equal(0, table.ExitCode);
        Assert.Contains(hourlyToken[..10], table.Stdout, StringComparison.Ordinal);
        Assert.DoesNotContain(hourlyToken, table.Stdout, StringComparison.Ordinal);

        var revoke = await cli.RunAsync("token", "revoke", hourlyToken);
        Assert.True(revoke.ExitCode == 0, revoke.ToString());
        Assert.Equal(3, (await cli.RunAsync("whoami", "--token", hourlyToken)).ExitCode);
        Assert.Equal(5, (await cli.RunAsync("token", "revoke", hourlyToken)).ExitCode);

        var all = await cli.RunAsync("token", "revoke", "--all");
        Assert.True(all.ExitCode == 0, all.ToString());
        Assert.Equal(3, (await cli.RunAsync("whoami", "--token", foreverToken)).ExitCode);
        var whoami = await cli.RunAsync("whoami");
        Assert.Equal(3, whoami.ExitCode);
        Assert.Contains("not logged in", whoami.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Revoking_the_cli_token_by_value_logs_the_cli_out()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
        var token = JsonDocument.Parse(File.ReadAllText(cli.ConfigPath)).RootElement.GetProperty("access_token").GetString()!;

        var revoke = await cli.RunAsync("token", "revoke", token);

        Assert.Equal(0, revoke.ExitCode);
        Assert.Contains("logged out", revoke.Stderr, StringComparison.Ordinal);
        Assert.Equal(3, (await cli.RunAsync("whoami")).ExitCode);
    }

    [Fact]
    public async Task Token_list_with_a_wrong_password_exits_3()
    {
        var (username, _) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);

        var list = await cli.RunAsync("token", "list", "--username", username, "--password", "wrong password here");

        Assert.Equal(3, list.ExitCode);
        Assert.Equal("error: User credentials are invalid", list.Stderr.Trim());
    }

    [Fact]
    public async Task Audit_list_shows_the_logins()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(3, (await cli.RunAsync("login", "-u", username, "-p", "a wrong password")).ExitCode);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);

        var audit = await cli.RunAsync("audit", "list", "--json");
        Assert.True(audit.ExitCode == 0, audit.ToString());
        var events = JsonDocument.Parse(audit.Stdout).RootElement.GetProperty("events").EnumerateArray()
            .Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Contains("LoginSucceeded", events);
        Assert.Contains("LoginFailed", events);
        Assert.Contains("UserSignedUp", events);

        var table = await cli.RunAsync("audit", "list", "--limit", "1");
        Assert.Equal(0, table.ExitCode);
        Assert.Equal(2, table.Stdout.Trim().Split('\n').Length);
    }
}
