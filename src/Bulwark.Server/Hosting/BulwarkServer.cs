using Bulwark.Contracts;
using Bulwark.Server.Data;
using Bulwark.Server.Data.Migrations;
using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Auth;
using Bulwark.Server.Features.Devices;
using Bulwark.Server.Features.DeviceOs;
using Bulwark.Server.Features.DeviceProtection;
using Bulwark.Server.Features.Events;
using Bulwark.Server.Features.Firmware;
using Bulwark.Server.Features.Groups;
using Bulwark.Server.Features.Keys;
using Bulwark.Server.Gateway;
using Bulwark.Server.Features.Mfa;
using Bulwark.Server.Features.Organizations;
using Bulwark.Server.Features.Products;
using Bulwark.Server.Features.ProductDevices;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.DataProtection;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Bulwark.Server.Hosting;

/// <summary>Builds the Bulwark host. <c>Program.cs</c> and the integration tests both start the server through
/// here, so the tests exercise exactly what runs in production.</summary>
public static class BulwarkServer
{
    public const string DefaultUrl = "http://127.0.0.1:8080";

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args });
        if (string.IsNullOrEmpty(builder.Configuration["urls"]) && string.IsNullOrEmpty(builder.Configuration["ASPNETCORE_URLS"]))
        {
            builder.WebHost.UseUrls(DefaultUrl);
        }
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Limits.MaxRequestBodySize = 64 * 1024 * 1024;
        });
        configure?.Invoke(builder);

        var options = builder.Configuration.GetSection(BulwarkOptions.Section).Get<BulwarkOptions>() ?? new BulwarkOptions();
        var database = builder.Configuration.GetSection(DatabaseOptions.Section).Get<DatabaseOptions>() ?? new DatabaseOptions();
        var dataDirectory = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dataDirectory);
        options.DataDirectory = dataDirectory;
        ThreadPool.GetMinThreads(out var workers, out var completionPorts);
        if (workers < options.MinWorkerThreads)
        {
            ThreadPool.SetMinThreads(options.MinWorkerThreads, completionPorts);
        }

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(database);
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton(SecretProtector.FromDataDirectory(dataDirectory));
        services.AddDbContext<BulwarkDbContext>(db => ConfigureDatabase(db, database, dataDirectory));
        services.AddScoped<MigrationRunner>();
        services.ConfigureHttpJsonOptions(json => ApiJson.Configure(json.SerializerOptions));
        services.AddAuthentication(AccessTokenAuthenticationHandler.SchemeName)
            .AddScheme<AuthenticationSchemeOptions, AccessTokenAuthenticationHandler>(AccessTokenAuthenticationHandler.SchemeName, null);
        services.AddAuthorization();
        // Keep ASP.NET's own key ring with the rest of the server's secrets, not in the home folder.
        services.AddDataProtection().PersistKeysToFileSystem(new DirectoryInfo(Path.Combine(dataDirectory, "keys", "aspnet")));
        services.AddAudit().AddAccounts().AddAccessTokens().AddMfa();
        services.AddOrganizations().AddProducts().AddTeams();
        services.AddServerKeys().AddEvents().AddDeviceGateway();
        services.AddProductDevices();
        services.AddFirmware().AddDeviceOs();
        services.AddDeviceProtection();

        var app = builder.Build();
        app.UseMiddleware<ApiErrorMiddleware>();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseTeamAuthorization();
        app.MapGet("/healthz", () => TypedResults.Json(new { status = "ok" })).AllowAnonymous();
        app.MapOAuthTokenEndpoint();
        app.MapAccountEndpoints();
        app.MapAccessTokenEndpoints();
        app.MapMfaEndpoints();
        app.MapAuditEndpoints();
        app.MapOrganizationEndpoints();
        app.MapProductEndpoints();
        app.MapTeamEndpoints();
        app.MapKeyEndpoints();
        app.MapProvisioningEndpoints();
        app.MapEventEndpoints();
        app.MapDeviceEndpoints();
        app.MapDeviceVitalsEndpoints();
        app.MapProductDeviceEndpoints();
        app.MapProductEventEndpoints();
        app.MapFirmwareEndpoints();
        app.MapGroupEndpoints();
        app.MapDeviceOsEndpoints();
        app.MapDeviceProtectionEndpoints();
        return app;
    }

    /// <summary>Applies pending migrations; the server does this before it accepts requests.</summary>
    public static async Task<IReadOnlyList<int>> MigrateAsync(this WebApplication app, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(app);
        await using var scope = app.Services.CreateAsyncScope();
        return await scope.ServiceProvider.GetRequiredService<MigrationRunner>().MigrateAsync(cancellationToken);
    }

    private static void ConfigureDatabase(DbContextOptionsBuilder db, DatabaseOptions database, string dataDirectory)
    {
        if (database.IsPostgres)
        {
            if (string.IsNullOrWhiteSpace(database.ConnectionString))
            {
                throw new InvalidOperationException("Database:Provider is postgres but Database:ConnectionString is not set");
            }
            db.UseNpgsql(database.ConnectionString);
            return;
        }
        var connectionString = database.ConnectionString;
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            connectionString = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(dataDirectory, "bulwark.db"),
                Cache = SqliteCacheMode.Private,
                DefaultTimeout = 30,
            }.ToString();
        }
        db.UseSqlite(connectionString).AddInterceptors(SqlitePragmas.Instance);
    }
}
