using System.CommandLine;
using System.Net;
using System.Text.Json;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli;

/// <summary>Shared by every command group: the console, the global options, and <see cref="Run"/>, which
/// turns a command body into an exit code and every failure into one <c>error: ...</c> line.</summary>
public sealed class CliApp(CliConsole console, GlobalOptions globals)
{
    public CliConsole Console { get; } = console;

    public GlobalOptions Globals { get; } = globals;

    /// <summary>Sets <paramref name="command"/>'s action to <paramref name="body"/>, wrapped in the error handling.</summary>
    public void Handle(Command command, Func<CliContext, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(command);
        ArgumentNullException.ThrowIfNull(body);
        command.SetAction((parse, cancellationToken) => Run(parse, body, cancellationToken));
    }

    public async Task<int> Run(ParseResult parse, Func<CliContext, Task<int>> body, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(body);
        CliContext? context = null;
        try
        {
            context = new CliContext(this, parse, cancellationToken);
            return await body(context);
        }
        catch (CliException e)
        {
            return Fail(e.ExitCode, e.Message);
        }
        catch (BulwarkApiException e)
        {
            var code = ExitCodeFor(e);
            var message = e.Description;
            if (code == ExitCodes.NotAuthenticated && e.StatusCode == HttpStatusCode.Unauthorized && context?.UsesStoredLogin == true)
            {
                message += "; run `bulwark login`";
            }
            return Fail(code, message);
        }
        catch (HttpRequestException e) when (e.StatusCode is null)
        {
            return Fail(ExitCodes.Unreachable, $"cannot reach the Bulwark server at {context?.ApiUrl}: {Innermost(e).Message}");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return Fail(ExitCodes.Unreachable, $"the Bulwark server at {context?.ApiUrl} did not answer in time");
        }
        catch (OperationCanceledException)
        {
            return Fail(ExitCodes.Error, "cancelled");
        }
        catch (IOException e)
        {
            return Fail(ExitCodes.Error, e.Message);
        }
        catch (UnauthorizedAccessException e)
        {
            return Fail(ExitCodes.Error, e.Message);
        }
    }

    /// <summary>Maps an API error to the CLI's exit codes.</summary>
    public static int ExitCodeFor(BulwarkApiException e)
    {
        ArgumentNullException.ThrowIfNull(e);
        return e.Error switch
        {
            "mfa_required" or "invalid_otp" or "invalid_mfa_token" => ExitCodes.MfaFailed,
            "invalid_grant" => ExitCodes.NotAuthenticated,
            _ => (int)e.StatusCode switch
            {
                401 => ExitCodes.NotAuthenticated,
                403 => ExitCodes.Forbidden,
                404 => ExitCodes.NotFound,
                429 => ExitCodes.RateLimited,
                >= 400 and < 500 when e.Error == "invalid_request" => ExitCodes.Usage,
                _ => ExitCodes.Error,
            },
        };
    }

    private int Fail(int exitCode, string message)
    {
        Console.Error.WriteLine("error: " + message.TrimEnd());
        return exitCode;
    }

    private static Exception Innermost(Exception e)
    {
        while (e.InnerException is not null)
        {
            e = e.InnerException;
        }
        return e;
    }
}

/// <summary>One command invocation: the resolved API URL and token, the config file, output helpers.</summary>
public sealed class CliContext
{
    private static readonly JsonSerializerOptions PrettyJson = new(ApiJson.Options) { WriteIndented = true };

    internal CliContext(CliApp app, ParseResult parse, CancellationToken cancellationToken)
    {
        App = app;
        Parse = parse;
        CancellationToken = cancellationToken;
        var console = app.Console;
        ConfigStore = CliConfigStore.For(console);
        Config = ConfigStore.Load();
        var apiUrl = FirstNonEmpty(parse.GetValue(app.Globals.ApiUrl), console.GetEnvironmentVariable("BULWARK_API_URL"), Config.ApiUrl)
            ?? GlobalOptions.DefaultApiUrl;
        if (!Uri.TryCreate(apiUrl, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw CliException.Usage($"the API URL '{apiUrl}' is not an absolute http:// or https:// URL");
        }
        ApiUrl = uri;
        var explicitToken = FirstNonEmpty(parse.GetValue(app.Globals.Token), console.GetEnvironmentVariable("BULWARK_TOKEN"));
        if (explicitToken is not null)
        {
            Token = explicitToken;
        }
        else if (!string.IsNullOrEmpty(Config.AccessToken) && SameServer(Config.ApiUrl, ApiUrl))
        {
            // The stored token is only ever sent to the server that issued it.
            Token = Config.AccessToken;
            UsesStoredLogin = true;
        }
    }

    public CliApp App { get; }

    public ParseResult Parse { get; }

    public CancellationToken CancellationToken { get; }

    public CliConsole Console => App.Console;

    public Uri ApiUrl { get; }

    /// <summary>The token for authenticated calls: <c>--token</c>, <c>$BULWARK_TOKEN</c>, or the stored login.</summary>
    public string? Token { get; }

    /// <summary>True when <see cref="Token"/> came from the config file.</summary>
    public bool UsesStoredLogin { get; }

    public CliConfigStore ConfigStore { get; }

    public CliConfig Config { get; private set; }

    public bool Json => Parse.GetValue(App.Globals.Json);

    public T? Value<T>(Option<T> option) => Parse.GetValue(option);

    public T? Value<T>(Argument<T> argument) => Parse.GetValue(argument);

    /// <summary>A client for anonymous calls, or with the token when there is one.</summary>
    public BulwarkApiClient CreateClient() => new(ApiUrl, Token) { ClientId = "bulwark-cli", UserAgent = "bulwark-cli/1.0" };

    /// <summary>A client that must be logged in.</summary>
    public BulwarkApiClient CreateAuthenticatedClient()
    {
        if (string.IsNullOrEmpty(Token))
        {
            throw CliException.NotLoggedIn();
        }
        return CreateClient();
    }

    public void SaveConfig(CliConfig config)
    {
        ConfigStore.Save(config);
        Config = config;
    }

    /// <summary>Forgets the stored token when it is <paramref name="token"/> (or any stored token when null).</summary>
    public bool ForgetStoredToken(string? token)
    {
        if (string.IsNullOrEmpty(Config.AccessToken) || (token is not null && !string.Equals(Config.AccessToken, token, StringComparison.Ordinal)))
        {
            return false;
        }
        SaveConfig(Config with { AccessToken = null });
        return true;
    }

    public void WriteJson<T>(T value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, PrettyJson));

    public void WriteLine(string text = "") => Console.Out.WriteLine(text);

    /// <summary>A human note that must not pollute machine output: stderr.</summary>
    public void Note(string text) => Console.Error.WriteLine(text);

    public static string Time(DateTime? time, string none = "-") =>
        time is { } t ? DateTime.SpecifyKind(t, DateTimeKind.Utc).ToString("yyyy-MM-dd HH:mm'Z'", System.Globalization.CultureInfo.InvariantCulture) : none;

    private static string? FirstNonEmpty(params string?[] values) => values.FirstOrDefault(v => !string.IsNullOrWhiteSpace(v))?.Trim();

    private static bool SameServer(string? stored, Uri current)
    {
        if (string.IsNullOrWhiteSpace(stored))
        {
            return true;
        }
        return Uri.TryCreate(stored, UriKind.Absolute, out var uri)
            && Uri.Compare(uri, current, UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.Unescaped, StringComparison.OrdinalIgnoreCase) == 0
            || string.Equals(stored.TrimEnd('/'), current.AbsoluteUri.TrimEnd('/'), StringComparison.OrdinalIgnoreCase);
    }
}
