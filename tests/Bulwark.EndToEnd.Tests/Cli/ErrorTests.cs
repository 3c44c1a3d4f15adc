using System.Net;
using System.Net.Sockets;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary>Usage errors and an unreachable server: exit codes 2 and 8, one line on stderr, no stack trace.</summary>
public sealed class ErrorTests
{
    [Theory]
    [InlineData()]
    [InlineData("frobnicate")]
    [InlineData("token")]
    [InlineData("token", "revoke")]
    [InlineData("token", "revoke", "--all", "some-token")]
    [InlineData("token", "create", "--expires-in", "soon")]
    [InlineData("token", "create", "--expires-in", "60", "--never-expires")]
    [InlineData("whoami", "--api-url", "not a url")]
    [InlineData("audit", "list", "--limit")]
    public async Task Usage_errors_exit_2(params string[] args)
    {
        using var cli = new CliRunner(new Uri("http://127.0.0.1:9"));

        var result = await cli.RunAsync(args);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.StartsWith("error: ", result.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Stderr, StringComparison.Ordinal);
        Assert.Empty(result.Stdout);
    }

    [Fact]
    public async Task Help_exits_0()
    {
        using var cli = new CliRunner(null);

        var result = await cli.RunAsync("token", "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("revoke", result.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unreachable_server_exits_8()
    {
        using var cli = new CliRunner(new Uri($"http://127.0.0.1:{ClosedPort()}"));

        var login = await cli.RunAsync("login", "--username", "someone@example.com", "--password", "whatever it is");
        var whoami = await cli.RunAsync("whoami", "--token", "any-token");

        Assert.True(login.ExitCode == 8, login.ToString());
        Assert.Equal(8, whoami.ExitCode);
        Assert.StartsWith("error: cannot reach the Bulwark server at http://127.0.0.1:", login.Stderr, StringComparison.Ordinal);
        Assert.Single(login.Stderr.Trim().Split('\n'));
    }

    [Fact]
    public async Task Missing_credentials_without_a_terminal_exit_2()
    {
        using var cli = new CliRunner(new Uri($"http://127.0.0.1:{ClosedPort()}"));

        var login = await cli.RunAsync("login");

        Assert.Equal(2, login.ExitCode);
        Assert.Contains("error: a username is required", login.Stderr, StringComparison.Ordinal);
    }

    private static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
