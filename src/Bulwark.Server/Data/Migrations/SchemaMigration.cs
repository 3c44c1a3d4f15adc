namespace Bulwark.Server.Data.Migrations;

/// <summary>One versioned schema change, written by hand for each provider (the EF design-time tools
/// cannot be restored here, and hand-written SQL keeps both dialects reviewable).</summary>
public sealed record SchemaMigration(int Version, string Name, string Sqlite, string Postgres);
