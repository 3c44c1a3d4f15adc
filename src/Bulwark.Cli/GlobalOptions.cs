using System.CommandLine;

namespace Bulwark.Cli;

/// <summary>Options every command accepts.</summary>
public sealed class GlobalOptions
{
    public const string DefaultApiUrl = "http://127.0.0.1:8080";

    public Option<string?> ApiUrl { get; } = new("--api-url")
    {
        Description = $"The Bulwark server (default: $BULWARK_API_URL, else the config file, else {DefaultApiUrl})",
        Recursive = true,
    };

    public Option<string?> Token { get; } = new("--token")
    {
        Description = "Access token to use instead of the logged-in one (default: $BULWARK_TOKEN)",
        Recursive = true,
    };

    public Option<bool> Json { get; } = new("--json")
    {
        Description = "Print machine-readable JSON on stdout",
        Recursive = true,
    };

    public void AddTo(RootCommand root)
    {
        ArgumentNullException.ThrowIfNull(root);
        root.Options.Add(ApiUrl);
        root.Options.Add(Token);
        root.Options.Add(Json);
    }
}
