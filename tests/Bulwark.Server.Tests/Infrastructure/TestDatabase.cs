using Npgsql;

namespace Bulwark.Server.Tests.Infrastructure;

/// <summary>Which database a test server runs on. PostgreSQL comes from <c>BULWARK_TEST_POSTGRES</c>
/// (set by <c>./test.sh</c>, which starts a local server); in CI its absence is a failure, not a skip.</summary>
public static class TestDatabase
{
    public const string Sqlite = "sqlite";
    public const string Postgres = "postgres";

    public static string? PostgresConnectionString => Environment.GetEnvironmentVariable("BULWARK_TEST_POSTGRES") is { Length: > 0 } s ? s : null;

    /// <summary>The providers every integration test runs on.</summary>
    public static TheoryData<string> Providers
    {
        get
        {
            var data = new TheoryData<string> { Sqlite };
            if (PostgresConnectionString is not null || IsCi)
            {
                data.Add(Postgres);
            }
            return data;
        }
    }

    public static bool IsCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>Creates an empty PostgreSQL database for one test server, so each starts from migration 1.</summary>
    public static async Task<string> CreatePostgresDatabaseAsync()
    {
        var admin = PostgresConnectionString
            ?? throw new InvalidOperationException("BULWARK_TEST_POSTGRES is not set: run the tests through ./test.sh, which starts PostgreSQL");
        var name = "bulwark_t_" + Guid.NewGuid().ToString("N")[..16];
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        return new NpgsqlConnectionStringBuilder(admin) { Database = name }.ConnectionString;
    }
}
