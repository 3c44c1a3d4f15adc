using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bulwark.Cli;

/// <summary>What <c>bulwark login</c> remembers: <c>$BULWARK_CONFIG</c> or <c>~/.bulwark/config.json</c>.</summary>
public sealed record CliConfig
{
    [JsonPropertyName("api_url")]
    public string? ApiUrl { get; init; }

    [JsonPropertyName("access_token")]
    public string? AccessToken { get; init; }

    [JsonPropertyName("username")]
    public string? Username { get; init; }
}

/// <summary>Reads and writes the config file. The file holds a bearer token, so it is created readable by
/// its owner only (0600, in a 0700 folder) and replaced atomically.</summary>
public sealed class CliConfigStore(string path)
{
    private static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    public string Path { get; } = path;

    public static CliConfigStore For(CliConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        var explicitPath = console.GetEnvironmentVariable("BULWARK_CONFIG");
        if (!string.IsNullOrWhiteSpace(explicitPath))
        {
            return new CliConfigStore(System.IO.Path.GetFullPath(explicitPath));
        }
        var home = console.GetEnvironmentVariable("HOME");
        if (string.IsNullOrWhiteSpace(home))
        {
            home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        }
        return new CliConfigStore(System.IO.Path.Combine(home, ".bulwark", "config.json"));
    }

    public CliConfig Load()
    {
        if (!File.Exists(Path))
        {
            return new CliConfig();
        }
        try
        {
            return JsonSerializer.Deserialize<CliConfig>(File.ReadAllText(Path), JsonOptions) ?? new CliConfig();
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCodes.Error, $"The config file {Path} is not valid JSON ({e.Message}); fix or delete it");
        }
    }

    public void Save(CliConfig config)
    {
        var directory = System.IO.Path.GetDirectoryName(Path)!;
        if (!Directory.Exists(directory))
        {
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(directory);
            }
            else
            {
                Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            }
        }
        var temporary = Path + "." + Guid.NewGuid().ToString("N")[..8] + ".tmp";
        var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        try
        {
            using (var stream = new FileStream(temporary, options))
            {
                JsonSerializer.Serialize(stream, config, JsonOptions);
            }
            File.Move(temporary, Path, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}
