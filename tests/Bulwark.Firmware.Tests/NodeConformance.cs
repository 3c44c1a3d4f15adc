using System.Diagnostics;
using System.Runtime.CompilerServices;

namespace Bulwark.Firmware.Tests;

/// <summary>Runs conformance/generate.js with the real binary-version-reader when Node and npm are available.</summary>
public static class NodeConformance
{
    public static string ConformanceDirectory([CallerFilePath] string thisFile = "") =>
        Path.Combine(Path.GetDirectoryName(thisFile)!, "conformance");

    /// <summary>Generates fresh fixtures into a new temporary directory, or returns null with the reason it could not.</summary>
    public static string? TryGenerate(out string whyNot)
    {
        var directory = ConformanceDirectory();
        if (!File.Exists(Path.Combine(directory, "generate.js")))
        {
            whyNot = $"{directory} not found (tests run away from the source tree)";
            return null;
        }
        if (Run("node", "--version", directory, TimeSpan.FromSeconds(30)) is not (0, _))
        {
            whyNot = "node is not on PATH";
            return null;
        }
        var installed = Path.Combine(directory, "node_modules", "binary-version-reader", "package.json");
        if (!File.Exists(installed) || !File.ReadAllText(installed).Contains("\"version\": \"3.1.3\"", StringComparison.Ordinal))
        {
            if (Run("npm", "ci --no-audit --no-fund", directory, TimeSpan.FromMinutes(5)) is not (0, _) and var (code, output))
            {
                whyNot = $"npm ci failed ({code}): {output}";
                return null;
            }
        }
        var target = Path.Combine(Path.GetTempPath(), $"bulwark-firmware-conformance-{Guid.NewGuid():N}");
        if (Run("node", $"generate.js \"{target}\"", directory, TimeSpan.FromMinutes(2)) is not (0, _) and var (exit, log))
        {
            whyNot = $"generate.js failed ({exit}): {log}";
            return null;
        }
        whyNot = "";
        return target;
    }

    private static (int ExitCode, string Output) Run(string fileName, string arguments, string workingDirectory, TimeSpan timeout)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(fileName, arguments)
            {
                WorkingDirectory = workingDirectory,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            })!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(timeout))
            {
                process.Kill(entireProcessTree: true);
                return (-1, $"timed out after {timeout}");
            }
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            return (-1, e.Message);
        }
    }
}
