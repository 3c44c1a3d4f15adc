using System.Text;

namespace Bulwark.Cli;

/// <summary>What a run of the CLI talks to: its standard streams and environment. Tests pass their own;
/// <see cref="FromProcessConsole"/> wraps the real one. Prompts go to stderr so stdout stays clean for scripts.</summary>
public sealed class CliConsole
{
    private readonly IReadOnlyDictionary<string, string?>? _environment;

    /// <param name="environment">Variables the CLI may read; null reads the process environment.</param>
    /// <param name="isInteractive">True when stdin is a terminal: secrets are then read without echo.</param>
    public CliConsole(TextReader input, TextWriter output, TextWriter error, IReadOnlyDictionary<string, string?>? environment = null,
        bool isInteractive = false)
    {
        In = input ?? throw new ArgumentNullException(nameof(input));
        Out = output ?? throw new ArgumentNullException(nameof(output));
        Error = error ?? throw new ArgumentNullException(nameof(error));
        _environment = environment;
        IsInteractive = isInteractive;
    }

    public TextReader In { get; }

    public TextWriter Out { get; }

    public TextWriter Error { get; }

    public bool IsInteractive { get; }

    /// <summary>The process console; interactive when stdin is not redirected.</summary>
    public static CliConsole FromProcessConsole() => new(Console.In, Console.Out, Console.Error, null, !Console.IsInputRedirected);

    public string? GetEnvironmentVariable(string name)
    {
        if (_environment is null)
        {
            return Environment.GetEnvironmentVariable(name);
        }
        return _environment.TryGetValue(name, out var value) ? value : null;
    }

    /// <summary>Asks for one line; null when input has ended.</summary>
    public string? Prompt(string label)
    {
        Error.Write(label);
        Error.Flush();
        return In.ReadLine()?.Trim();
    }

    /// <summary>Asks for a secret: without echo on a terminal, as a plain line from redirected input.</summary>
    public string? PromptSecret(string label)
    {
        Error.Write(label);
        Error.Flush();
        if (!IsInteractive)
        {
            return In.ReadLine();
        }
        var secret = new StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                break;
            }
            if (key.Key == ConsoleKey.Backspace)
            {
                if (secret.Length > 0)
                {
                    secret.Length--;
                }
                continue;
            }
            if (!char.IsControl(key.KeyChar))
            {
                secret.Append(key.KeyChar);
            }
        }
        Error.WriteLine();
        return secret.ToString();
    }
}
