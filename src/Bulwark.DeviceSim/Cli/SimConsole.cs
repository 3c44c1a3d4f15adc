namespace Bulwark.DeviceSim.Cli;

/// <summary>Where the CLI writes: the real console, or a test's writers.</summary>
public sealed record SimConsole(TextWriter Out, TextWriter Error)
{
    public static SimConsole System() => new(global::System.Console.Out, global::System.Console.Error);
}
