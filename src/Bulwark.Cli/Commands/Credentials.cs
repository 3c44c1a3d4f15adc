using System.CommandLine;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli.Commands;

/// <summary><c>--username</c>, <c>--password</c>, <c>--otp</c>, and the prompts used when they are not given.</summary>
internal sealed class Credentials
{
    private const int MaxOtpAttempts = 3;

    public Option<string?> Username { get; } = new("--username", "-u") { Description = "Account email (prompted when omitted)" };

    public Option<string?> Password { get; } = new("--password", "-p")
    {
        Description = "Account password (prompted without echo when omitted; avoid on shared machines, it lands in shell history)",
    };

    public Option<string?> Otp { get; } = new("--otp") { Description = "One-time code from the authenticator app, or a recovery code" };

    public void AddTo(Command command, bool otp = true)
    {
        command.Options.Add(Username);
        command.Options.Add(Password);
        if (otp)
        {
            command.Options.Add(Otp);
        }
    }

    /// <summary>The username: the option, else the remembered one when <paramref name="preferStored"/>, else a prompt.</summary>
    public string ReadUsername(CliContext context, bool preferStored)
    {
        if (context.Value(Username) is { Length: > 0 } given)
        {
            return given.Trim();
        }
        if (preferStored && !string.IsNullOrEmpty(context.Config.Username))
        {
            return context.Config.Username;
        }
        var remembered = context.Config.Username;
        var label = string.IsNullOrEmpty(remembered) ? "Username: " : $"Username [{remembered}]: ";
        var answer = context.Console.Prompt(label);
        if (string.IsNullOrEmpty(answer))
        {
            return remembered ?? throw CliException.Usage("a username is required (pass --username)");
        }
        return answer;
    }

    public string ReadPassword(CliContext context, string label = "Password: ")
    {
        if (context.Value(Password) is { Length: > 0 } given)
        {
            return given;
        }
        var answer = context.Console.PromptSecret(label);
        return string.IsNullOrEmpty(answer) ? throw CliException.Usage("a password is required (pass --password)") : answer;
    }

    /// <summary>Runs <paramref name="attempt"/> with a one-time code: <c>--otp</c> once, or up to three prompted codes.
    /// A wrong code, or running out of them, is exit code 6.</summary>
    public async Task<T> WithOtpAsync<T>(CliContext context, Func<string, Task<T>> attempt, string prompt = "Two-step authentication code: ")
    {
        if (context.Value(Otp) is { Length: > 0 } given)
        {
            return await RethrowAsMfaFailure(() => attempt(given.Trim()));
        }
        for (var remaining = MaxOtpAttempts; ; remaining--)
        {
            var code = context.Console.Prompt(prompt);
            if (string.IsNullOrEmpty(code))
            {
                throw new CliException(ExitCodes.MfaFailed, "a one-time code is required (pass --otp)");
            }
            try
            {
                return await attempt(code);
            }
            catch (BulwarkApiException e) when (IsWrongCode(e) && remaining > 1)
            {
                context.Note($"{e.Description} ({remaining - 1} {(remaining - 1 == 1 ? "attempt" : "attempts")} left)");
            }
            catch (BulwarkApiException e) when (IsWrongCode(e))
            {
                throw new CliException(ExitCodes.MfaFailed, e.Description);
            }
        }
    }

    /// <summary>Password grant, then the two-step code when the account asks for one.</summary>
    public async Task<TokenResponse> LoginAsync(CliContext context, BulwarkApiClient client, string username, string password, long? expiresIn)
    {
        var result = await client.LoginAsync(username, password, expiresIn, context.CancellationToken);
        if (result.Token is { } token)
        {
            return token;
        }
        var mfaToken = result.MfaToken!;
        return await WithOtpAsync(context, otp => client.FinishMfaLoginAsync(mfaToken, otp, context.CancellationToken));
    }

    private static async Task<T> RethrowAsMfaFailure<T>(Func<Task<T>> attempt)
    {
        try
        {
            return await attempt();
        }
        catch (BulwarkApiException e) when (IsWrongCode(e))
        {
            throw new CliException(ExitCodes.MfaFailed, e.Description);
        }
    }

    /// <summary>The second factor was refused (as opposed to a lockout or an unreachable server).</summary>
    private static bool IsWrongCode(BulwarkApiException e) =>
        e.Error is "invalid_grant" or "invalid_otp" or "invalid_mfa_token" or "mfa_required";
}
