using System.Net.Http.Json;
using Bulwark.Contracts;
using Bulwark.Server.Security;
using Bulwark.Server.Tests.Infrastructure;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Conformance;

/// <summary>The real particle-cli@3.51.0 (on Node 22) pointed at the server with <c>particle profile set apiUrl</c>.</summary>
public class ParticleCliTests
{
    private sealed class Cli(string home) : IDisposable
    {
        public async Task<NodeTools.Result> RunAsync(params string[] args) =>
            await NodeTools.RunAsync(NodeTools.Node22, [NodeTools.ParticleCli, .. args], home, new Dictionary<string, string>
            {
                ["HOME"] = home,
                ["PARTICLE_DISABLE_UPDATE"] = "true",
                ["NO_COLOR"] = "1",
                ["CI"] = "true",
            }, TimeSpan.FromMinutes(2));

        public void Dispose()
        {
            try
            {
                Directory.Delete(home, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        public static async Task<Cli> ForAsync(BulwarkTestServer server)
        {
            var home = Path.Combine(Path.GetTempPath(), "bulwark-cli-home-" + Guid.NewGuid().ToString("N")[..10]);
            Directory.CreateDirectory(home);
            var cli = new Cli(home);
            var set = await cli.RunAsync("profile", "set", "apiUrl", server.Url);
            Assert.True(set.ExitCode == 0, set.Output);
            return cli;
        }
    }

    [Fact]
    public async Task Login_whoami_token_revoke_and_logout()
    {
        NodeTools.RequireInstalled();
        await using var server = await BulwarkTestServer.StartAsync();
        var user = await server.CreateUserAsync();
        using var cli = await Cli.ForAsync(server);

        var login = await cli.RunAsync("login", "--username", user.Username, "--password", user.Password);
        Assert.True(login.ExitCode == 0, login.Output);
        var whoami = await cli.RunAsync("whoami");
        Assert.True(whoami.ExitCode == 0, whoami.Output);
        Assert.Contains(user.Username, whoami.Output, StringComparison.Ordinal);

        var spare = await server.LoginAsync(user.Username, user.Password);
        var revoke = await cli.RunAsync("token", "revoke", spare);
        Assert.True(revoke.ExitCode == 0, revoke.Output);
        using (var spareClient = server.CreateClient(spare))
        {
            Assert.Equal(System.Net.HttpStatusCode.Unauthorized, (await spareClient.GetAsync("/v1/user")).StatusCode);
        }

        var logout = await cli.RunAsync("logout");
        Assert.True(logout.ExitCode == 0, logout.Output);
        var after = await cli.RunAsync("whoami");
        Assert.NotEqual(0, after.ExitCode);
    }

    [Fact]
    public async Task Login_with_two_step_authentication_using_otp()
    {
        NodeTools.RequireInstalled();
        await using var server = await BulwarkTestServer.StartAsync();
        var user = await server.CreateUserAsync();
        using (var client = server.CreateClient(user.Token))
        {
            var start = await JsonAsync(await client.GetAsync("/v1/user/mfa-enable"));
            var secret = Base32.Decode(start.GetProperty("secret").GetString()!);
            var confirm = await client.PostAsJsonAsync("/v1/user/mfa-enable", new
            {
                mfa_token = start.GetProperty("mfa_token").GetString(),
                otp = Totp.Code(secret, Totp.StepAt(DateTimeOffset.UtcNow)),
            }, ApiJson.Options);
            await EnsureSuccessAsync(confirm);
            var recovery = (await JsonAsync(confirm)).GetProperty("recovery_codes")[0].GetString()!;

            using var cli = await Cli.ForAsync(server);
            // A recovery code stands in for the authenticator's code (and avoids waiting for the next TOTP step).
            var login = await cli.RunAsync("login", "--username", user.Username, "--password", user.Password, "--otp", recovery);
            Assert.True(login.ExitCode == 0, login.Output);
            var whoami = await cli.RunAsync("whoami");
            Assert.Contains(user.Username, whoami.Output, StringComparison.Ordinal);
        }
    }
}
