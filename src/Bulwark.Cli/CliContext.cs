using System.CommandLine;
using System.Text.Json;
using Bulwark.Client;
using Bulwark.Contracts;

namespace Bulwark.Cli;

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
