namespace Bulwark.Server.Gateway.Ota;

/// <summary>Over-the-air delivery limits (configuration section <c>Bulwark:Ota</c>).</summary>
public sealed class OtaOptions
{
    public const string Section = "Bulwark:Ota";

    /// <summary>Transfers running at once across the whole server; the rest wait their turn.</summary>
    public int MaxConcurrentTransfers { get; set; } = 32;

    /// <summary>Per-transfer pace; 0 for as fast as the connection takes them.</summary>
    public int MaxChunksPerSecond { get; set; }

    /// <summary>Upper bound on the chunk size (the device's Hello proposes one; frames must stay under 1134 bytes).</summary>
    public int MaxChunkSize { get; set; } = 1024;

    /// <summary>How long to wait for ChunkMissed after UpdateDone was answered 4.00.</summary>
    public double ChunkMissedWaitSeconds { get; set; } = 5;

    /// <summary>OTA v3: with no new UpdateAck this long, the chunks still unacknowledged are sent again.</summary>
    public double AckTimeoutSeconds { get; set; } = 5;

    /// <summary>OTA v3: chunks sent ahead of the device's acknowledgements, never more than the window it announces.</summary>
    public int MaxChunksInFlight { get; set; } = 64;

    /// <summary>First retry delay after a failed or interrupted update; doubles per failure up to <see cref="RetryMaxSeconds"/>.</summary>
    public double RetryBaseSeconds { get; set; } = 30;

    public double RetryMaxSeconds { get; set; } = 3600;

    public TimeSpan RetryDelay(int attempts) =>
        TimeSpan.FromSeconds(Math.Min(RetryMaxSeconds, RetryBaseSeconds * Math.Pow(2, Math.Max(0, attempts - 1))));
}
