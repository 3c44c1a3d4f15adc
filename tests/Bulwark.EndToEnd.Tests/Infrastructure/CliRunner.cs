using System.Text;
using Bulwark.Cli;

namespace Bulwark.EndToEnd.Tests.Infrastructure;

/// <summary>Runs the real <c>bulwark</c> entry point in-process with its own config file and environment,
/// as a user on their own machine would: one runner is one user's home folder.</summary>
public sealed class CliRunner : IDisposable
{
    private readonly string _home = Directory.CreateTempSubdirectory("bulwark-cli-").FullName;

    public CliRunner(Uri? apiUrl)
    {
        Environment = new Dictionary<string, string?>
        {
            ["HOME"] = _home,
            ["BULWARK_CONFIG"] = ConfigPath,
        };
        if (apiUrl is not null)
        {
            Environment["BULWARK_API_URL"] = apiUrl.ToString().TrimEnd('/');
        }
    }

    public string ConfigPath => Path.Combine(_home, ".bulwark", "config.json");

    public Dictionary<string, string?> Environment { get; }

    public Task<CliResult> RunAsync(params string[] args) => RunAsync(new ScriptedInput(), args);

    /// <summary>Runs with <paramref name="stdinLines"/> as the lines typed at the prompts.</summary>
    public Task<CliResult> RunWithInputAsync(string[] stdinLines, params string[] args) =>
        RunAsync(new ScriptedInput(stdinLines.Select(l => (Func<string?>)(() => l)).ToArray()), args);

    public async Task<CliResult> RunAsync(ScriptedInput stdin, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(stdin);
        var stdout = new SynchronizedStringWriter();
        var stderr = new SynchronizedStringWriter();
        stdin.Output = stdout;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var exitCode = await BulwarkCli.RunAsync(args, stdin, stdout, stderr, Environment, timeout.Token);
        return new CliResult(exitCode, stdout.ToString(), stderr.ToString());
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private sealed class SynchronizedStringWriter : StringWriter
    {
        private readonly object _gate = new();

        public override void Write(char value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void Write(string? value)
        {
            lock (_gate)
            {
                base.Write(value);
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_gate)
            {
                base.WriteLine(value);
            }
        }

        public override string ToString()
        {
            lock (_gate)
            {
                return base.ToString();
            }
        }
    }
}

/// <summary>What a finished CLI run printed and returned.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public override string ToString() => $"exit {ExitCode}\n--- stdout\n{Stdout}--- stderr\n{Stderr}";
}

/// <summary>Stdin whose lines are produced when the CLI asks for them, so a line can depend on what the
/// CLI has printed so far (a TOTP code computed from the secret it just showed).</summary>
public sealed class ScriptedInput(params Func<string?>[] lines) : TextReader
{
    private readonly Queue<Func<string?>> _lines = new(lines);

    /// <summary>The CLI's stdout so far (set by <see cref="CliRunner"/>).</summary>
    public StringWriter? Output { get; set; }

    public override string? ReadLine()
    {
        if (!_lines.TryDequeue(out var next))
        {
            return null;
        }
        return next();
    }

    public override int Peek() => -1;

    public override int Read() => throw new NotSupportedException("The CLI reads whole lines");
}
