using System.Text.Json;
using System.Text.RegularExpressions;
using Bulwark.EndToEnd.Tests.Infrastructure;

namespace Bulwark.EndToEnd.Tests.Cli;

/// <summary>Two-step authentication through the CLI: enrol, log in with a code, replay refused, recovery codes.</summary>
public sealed partial class MfaTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    [Fact]
    public async Task Enable_then_login_with_a_code_then_disable()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);

        // The code is typed after the CLI has shown the secret, as a person with a phone would.
        TotpCodes? authenticator = null;
        ScriptedInput stdin = null!;
        stdin = new ScriptedInput(() =>
        {
            var secret = SecretLine().Match(stdin.Output!.ToString()).Groups[1].Value;
            authenticator = new TotpCodes(secret);
            return authenticator.Next();
        });
        var enable = await cli.RunAsync(stdin, "mfa", "enable");
        Assert.True(enable.ExitCode == 0, enable.ToString());
        Assert.Contains("otpauth://totp/", enable.Stdout, StringComparison.Ordinal);
        var recoveryCodes = RecoveryCode().Matches(enable.Stdout).Select(m => m.Value).ToList();
        Assert.Equal(10, recoveryCodes.Count);
        Assert.NotNull(authenticator);

        var whoami = await cli.RunAsync("whoami", "--json");
        Assert.True(JsonDocument.Parse(whoami.Stdout).RootElement.GetProperty("mfa").GetProperty("enabled").GetBoolean());
        Assert.Equal(0, (await cli.RunAsync("logout")).ExitCode);

        // The CLI asks for the code when the server answers mfa_required.
        var login = await cli.RunAsync(new ScriptedInput(() => username, () => password, authenticator.Next), "login");
        Assert.True(login.ExitCode == 0, login.ToString());
        Assert.Contains("Two-step authentication code: ", login.Stderr, StringComparison.Ordinal);
        Assert.Equal(username, (await cli.RunAsync("whoami")).Stdout.Trim());

        // A code that was already used is refused: exit 6.
        var replay = await cli.RunAsync("login", "-u", username, "-p", password, "--otp", authenticator.Last());
        Assert.Equal(6, replay.ExitCode);
        Assert.Equal("error: Invalid one-time password", replay.Stderr.Trim());

        // Listing tokens needs the second factor too; a recovery code stands in for it once.
        var list = await cli.RunAsync("token", "list", "--password", password, "--otp", recoveryCodes[0], "--json");
        Assert.True(list.ExitCode == 0, list.ToString());
        var reused = await cli.RunAsync("token", "list", "--password", password, "--otp", recoveryCodes[0]);
        Assert.Equal(6, reused.ExitCode);

        // Without a code and nothing on stdin to prompt from: exit 6, not a hang.
        var noCode = await cli.RunAsync("token", "list", "--password", password);
        Assert.Equal(6, noCode.ExitCode);

        var disable = await cli.RunAsync("mfa", "disable", "--password", password);
        Assert.True(disable.ExitCode == 0, disable.ToString());
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
    }

    [Fact]
    public async Task Three_wrong_codes_at_the_prompt_exit_6()
    {
        var (username, password) = await Accounts.SignUpAsync(fixture.Server);
        using var cli = new CliRunner(fixture.Server.BaseAddress);
        Assert.Equal(0, (await cli.RunAsync("login", "-u", username, "-p", password)).ExitCode);
        var enable = await cli.RunAsync("mfa", "enable", "--json");
        Assert.Equal(6, enable.ExitCode); // no code on stdin: enrolment is not confirmed
        Assert.False(JsonDocument.Parse((await cli.RunAsync("whoami", "--json")).Stdout).RootElement.GetProperty("mfa").GetProperty("enabled").GetBoolean());

        var wrong = await cli.RunAsync(new ScriptedInput(() => "000000", () => "111111", () => "222222"), "mfa", "enable");
        Assert.Equal(6, wrong.ExitCode);
        Assert.Contains("(2 attempts left)", wrong.Stderr, StringComparison.Ordinal);
        Assert.Contains("(1 attempt left)", wrong.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("error: The one-time password does not match; check the authenticator's clock and try again", wrong.Stderr.Trim(), StringComparison.Ordinal);
    }

    [GeneratedRegex(@"secret:\s+([A-Z2-7]+)")]
    private static partial Regex SecretLine();

    [GeneratedRegex(@"\b[a-z2-9]{5}-[a-z2-9]{5}\b")]
    private static partial Regex RecoveryCode();
}
