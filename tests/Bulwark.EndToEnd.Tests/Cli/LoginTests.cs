using System.Text.Json;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary><c>bulwark login|whoami|logout</c> against the real server.</summary>
public sealed class LoginTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Login_whoami_logout_then_whoami_fails_with_exit_code_3()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);

        var login = await cli.RunAsync("login", "--username", username, "--password", password);
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains($"Logged in as {username}", login.Stdout, StringComparison.Ordinal);

        var config = JsonDocument.Parse(File.ReadAllText(cli.ConfigPath)).RootElement;
        Assert.Equal(username, config.GetProperty("username").GetString());
        Assert.StartsWith(fixture.Server.Url, config.GetProperty("api_url").GetString(), StringComparison.Ordinal);
        Assert.False(string.IsNullOrEmpty(config.GetProperty("access_token").GetString()));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(cli.ConfigPath));
        }

        var whoami = await cli.RunAsync("whoami");
        Assert.True(whoami.ExitCode == 0, whoami.ToString());
        Assert.Equal(username, whoami.Stdout.Trim());

        var json = await cli.RunAsync("whoami", "--json");
        Assert.Equal(0, json.ExitCode);
        var user = JsonDocument.Parse(json.Stdout).RootElement;
        Assert.Equal(username, user.GetProperty("username").GetString());
        Assert.False(user.GetProperty("mfa").GetProperty("enabled").GetBoolean());

        var logout = await cli.RunAsync("logout");
        Assert.True(logout.ExitCode == 0, logout.ToString());
        Assert.False(JsonDocument.Parse(File.ReadAllText(cli.ConfigPath)).RootElement.TryGetProperty("access_token", out _));

        var after = await cli.RunAsync("whoami");
        Assert.Equal(3, after.ExitCode);
        Assert.StartsWith("error: ", after.Stderr, StringComparison.Ordinal);
        Assert.Empty(after.Stdout);
    }

    [Fact]
    public async Task Logout_revokes_the_token_on_the_server()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
        var token = JsonDocument.Parse(File.ReadAllText(cli.ConfigPath)).RootElement.GetProperty("access_token").GetString()!;

        Assert.Equal(0, (await cli.RunAsync("logout")).ExitCode);

        var withOldToken = await cli.RunAsync("whoami", "--token", token);
        Assert.Equal(3, withOldToken.ExitCode);
        Assert.Contains("error: The access token was not found, has expired or was revoked", withOldToken.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Login_prompts_for_username_and_password_on_stdin()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);

        var login = await cli.RunWithInputAsync([username, password], "login");
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains("Username: ", login.Stderr, StringComparison.Ordinal);
        Assert.Contains("Password: ", login.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain(password, login.Stdout + login.Stderr, StringComparison.Ordinal);

        var whoami = await cli.RunAsync("whoami");
        Assert.Equal(username, whoami.Stdout.Trim());
    }

    [Fact]
    public async Task Wrong_password_exits_3_with_the_server_description()
    {
        var (username, _) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);

        var login = await cli.RunAsync("login", "--username", username, "--password", "not the password at all");

        Assert.Equal(3, login.ExitCode);
        Assert.Equal("error: User credentials are invalid", login.Stderr.Trim());
        Assert.False(File.Exists(cli.ConfigPath));
    }

    [Fact]
    public async Task Repeated_failures_lock_the_account_and_exit_7()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(3, (await cli.RunAsync("login", "-u", username, "-p", "wrong password " + i)).ExitCode);
        }

        var locked = await cli.RunAsync("login", "-u", username, "-p", password);

        Assert.Equal(7, locked.ExitCode);
        Assert.Contains("error: Too many failed login attempts", locked.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Whoami_without_login_exits_3()
    {
        using var cli = new CliRunner(fixture.Server.BaseAddress);

        var whoami = await cli.RunAsync("whoami");

        Assert.Equal(3, whoami.ExitCode);
        Assert.Equal("error: You are not logged in; run `bulwark login` first", whoami.Stderr.Trim());
    }

    [Fact]
    public async Task The_stored_token_is_not_sent_to_another_server()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);

        var elsewhere = await cli.RunAsync("whoami", "--api-url", "http://127.0.0.2:9");

        Assert.Equal(3, elsewhere.ExitCode);
    }
}
