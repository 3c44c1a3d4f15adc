using System.Data.Common;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Data.Migrations;

/// <summary>Applies the <see cref="SchemaMigrations"/> a database has not seen, each in its own transaction,
/// and records them in <c>schema_migrations</c>. Safe to run from several nodes at once on PostgreSQL
/// (an advisory lock serialises them).</summary>
public sealed partial class MigrationRunner(BulwarkDbContext db, ILogger<MigrationRunner> logger)
{
    private const long PostgresLockKey = 0x42_75_6C_77_61_72_6B; // "Bulwark"

    /// <summary>Brings the schema up to date; answers the versions it applied.</summary>
    public async Task<IReadOnlyList<int>> MigrateAsync(CancellationToken cancellationToken = default)
    {
        var isPostgres = db.Database.IsNpgsql();
        var connection = db.Database.GetDbConnection();
        await db.Database.OpenConnectionAsync(cancellationToken);
        try
        {
            if (isPostgres)
            {
                await ExecuteAsync(connection, null, $"SELECT pg_advisory_lock({PostgresLockKey})", cancellationToken);
            }
            await ExecuteAsync(connection, null, isPostgres
                ? "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL)"
                : "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                cancellationToken);

            var applied = await AppliedVersionsAsync(connection, cancellationToken);
            var newlyApplied = new List<int>();
            foreach (var migration in SchemaMigrations.All.Where(m => !applied.Contains(m.Version)).OrderBy(m => m.Version))
            {
                await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
                await ExecuteAsync(connection, transaction, isPostgres ? migration.Postgres : migration.Sqlite, cancellationToken);
                await using (var record = connection.CreateCommand())
                {
                    record.Transaction = transaction;
                    record.CommandText = "INSERT INTO schema_migrations (version, name, applied_at) VALUES (@v, @n, @t)";
                    AddParameter(record, "@v", migration.Version);
                    AddParameter(record, "@n", migration.Name);
                    AddParameter(record, "@t", isPostgres ? DateTime.UtcNow : DateTime.UtcNow.ToString("O"));
                    await record.ExecuteNonQueryAsync(cancellationToken);
                }
                await transaction.CommitAsync(cancellationToken);
                LogApplied(logger, migration.Version, migration.Name);
                newlyApplied.Add(migration.Version);
            }
            if (isPostgres)
            {
                await ExecuteAsync(connection, null, $"SELECT pg_advisory_unlock({PostgresLockKey})", cancellationToken);
            }
            return newlyApplied;
        }
        finally
        {
            await db.Database.CloseConnectionAsync();
        }
    }

    private static async Task<HashSet<int>> AppliedVersionsAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var versions = new HashSet<int>();
        await using var command = connection.CreateCommand();
        command.CommandText = "SELECT version FROM schema_migrations";
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            versions.Add(Convert.ToInt32(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture));
        }
        return versions;
    }

    private static async Task ExecuteAsync(DbConnection connection, DbTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private static void AddParameter(DbCommand command, string name, object value)
    {
        var parameter = command.CreateParameter();
        parameter.ParameterName = name;
        parameter.Value = value;
        command.Parameters.Add(parameter);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Applied schema migration {Version} ({Name})")]
    private static partial void LogApplied(ILogger logger, int version, string name);
}
