namespace Bulwark.Server.Hosting;

/// <summary>Server settings, bound from the <c>Bulwark</c> configuration section (appsettings, environment
/// variables such as <c>Bulwark__Signup=closed</c>, or command-line <c>--Bulwark:Signup=closed</c>).</summary>
public sealed class BulwarkOptions
{
    public const string Section = "Bulwark";

    /// <summary>Where the SQLite database and the server keys live.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary><c>open</c> (anyone may sign up, as on Particle's API) or <c>closed</c> (invite-only).</summary>
    public string Signup { get; set; } = "open";

    public bool SignupOpen => !string.Equals(Signup, "closed", StringComparison.OrdinalIgnoreCase);

    /// <summary>Thread-pool worker threads kept ready. Microsoft.Data.Sqlite's "async" calls run synchronously and
    /// SQLite's busy handler sleeps on the calling thread, so a burst of devices writing at once (thousands connecting)
    /// parks every pool thread; the pool then grows by about one thread a second and everything else (acknowledgements,
    /// pings, other devices' handshakes) stalls until devices retransmit and give up. Measured: 2,000 UDP devices with
    /// 128 handshakes in flight collapsed to 16 handshakes/s with 187 sessions lost; with 64 threads ready, 92/s and none lost.</summary>
    public int MinWorkerThreads { get; set; } = 64;

    public PasswordOptions Passwords { get; set; } = new();

    public LoginThrottleOptions LoginThrottle { get; set; } = new();

    /// <summary>Lifetime of a token when the client does not ask for one (Particle's 90 days).</summary>
    public long DefaultTokenLifetimeSeconds { get; set; } = 7_776_000;

    /// <summary>Usernames of the server's administrators (<c>Bulwark:ServerAdmins:0=alice@example.com</c>).</summary>
    public List<string> ServerAdmins { get; set; } = [];

    /// <summary>Who may create organizations: <c>anyone</c> signed in (the default) or <c>server-admins</c>.</summary>
    public string OrganizationCreation { get; set; } = "anyone";

    public bool IsServerAdmin(string normalizedUsername) =>
        ServerAdmins.Any(a => string.Equals(a.Trim(), normalizedUsername, StringComparison.OrdinalIgnoreCase));

    public bool MayCreateOrganizations(string normalizedUsername) =>
        !string.Equals(OrganizationCreation, "server-admins", StringComparison.OrdinalIgnoreCase) || IsServerAdmin(normalizedUsername);

    /// <summary>The device gateway (<c>Bulwark:Gateway:*</c>).</summary>
    public Gateway.GatewayOptions Gateway { get; set; } = new();

    /// <summary>Event streams (<c>Bulwark:Events:*</c>).</summary>
    public Features.Events.EventStreamOptions Events { get; set; } = new();
}

public sealed class PasswordOptions
{
    /// <summary>NIST SP 800-63B asks for at least 8; operators may require more.</summary>
    public int MinimumLength { get; set; } = 8;

    /// <summary>NIST asks that at least 64 be allowed; the cap keeps hashing cost bounded.</summary>
    public int MaximumLength { get; set; } = 256;
}

public sealed class LoginThrottleOptions
{
    /// <summary>Consecutive failures for one username before it is locked.</summary>
    public int AccountFailureLimit { get; set; } = 5;

    /// <summary>Failures from one address before it is locked (Particle documents 10).</summary>
    public int AddressFailureLimit { get; set; } = 10;

    public int LockoutMinutes { get; set; } = 30;

    /// <summary>Failures older than this are forgotten.</summary>
    public int WindowMinutes { get; set; } = 30;
}

/// <summary>Which database the server uses.</summary>
public sealed class DatabaseOptions
{
    public const string Section = "Database";

    /// <summary><c>sqlite</c> (embedded default) or <c>postgres</c>.</summary>
    public string Provider { get; set; } = "sqlite";

    /// <summary>For PostgreSQL, an Npgsql connection string; for SQLite, optional (defaults to a file in the data folder).</summary>
    public string? ConnectionString { get; set; }

    public bool IsPostgres => string.Equals(Provider, "postgres", StringComparison.OrdinalIgnoreCase)
        || string.Equals(Provider, "postgresql", StringComparison.OrdinalIgnoreCase);
}
