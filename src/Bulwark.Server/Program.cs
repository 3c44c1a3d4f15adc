using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Hosting;

// `Bulwark.Server [migrate|verify-audit] [--urls ...] [--Bulwark:DataDirectory=...]`
var command = args.Length > 0 && !args[0].StartsWith('-') ? args[0] : "serve";
var app = BulwarkServer.Build(command == "serve" ? args : args[1..]);

switch (command)
{
    case "serve":
        await app.MigrateAsync();
        await app.RunAsync();
        return 0;
    case "migrate":
        var applied = await app.MigrateAsync();
        Console.WriteLine(applied.Count == 0 ? "The database is up to date." : $"Applied migrations: {string.Join(", ", applied)}");
        return 0;
    case "verify-audit":
        await using (var scope = app.Services.CreateAsyncScope())
        {
            var result = await AuditChainVerifier.VerifyAsync(scope.ServiceProvider.GetRequiredService<BulwarkDbContext>());
            Console.WriteLine(result.Message);
            return result.Intact ? 0 : 3;
        }
    default:
        Console.Error.WriteLine($"Unknown command '{command}'. Commands: serve (default), migrate, verify-audit.");
        return 2;
}
