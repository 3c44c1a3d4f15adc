using System.Net.Http.Json;
using Bulwark.Server.Data;
using Bulwark.Server.Data.Migrations;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Tests.Infrastructure;
using Microsoft.EntityFrameworkCore;
using static Bulwark.Server.Tests.Infrastructure.BulwarkTestServer;

namespace Bulwark.Server.Tests.Features.Audit;

public class AuditLogTests
{
    public static TheoryData<string> Providers => TestDatabase.Providers;

    [Theory, MemberData(nameof(Providers))]
    public async Task Security_events_are_recorded_and_readable_by_the_account_owner(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        var user = await server.CreateUserAsync();
        using var anonymous = server.CreateClient();
        await anonymous.PostAsync("/oauth/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "password", ["username"] = user.Username, ["password"] = "definitely wrong",
        }));
        var other = await server.LoginAsync(user.Username, user.Password);
        await anonymous.DeleteAsync("/v1/access_tokens/" + other);

        using var client = server.CreateClient(user.Token);
        var events = (await JsonAsync(await client.GetAsync("/v1/user/audit"))).GetProperty("events").EnumerateArray()
            .Select(e => e.GetProperty("event").GetString()).ToList();
        Assert.Contains("UserSignedUp", events);
        Assert.Contains("LoginSucceeded", events);
        Assert.Contains("LoginFailed", events);
        Assert.Contains("TokenRevoked", events);

        // Another user sees none of them.
        var stranger = await server.CreateUserAsync();
        using var strangerClient = server.CreateClient(stranger.Token);
        var theirs = (await JsonAsync(await strangerClient.GetAsync("/v1/user/audit"))).GetProperty("events").EnumerateArray();
        Assert.All(theirs, e => Assert.NotEqual(user.Username, e.GetProperty("actor").GetString()));

        var filtered = (await JsonAsync(await client.GetAsync("/v1/user/audit?event=LoginFailed"))).GetProperty("events").EnumerateArray().ToList();
        Assert.NotEmpty(filtered);
        Assert.All(filtered, e => Assert.Equal("LoginFailed", e.GetProperty("event").GetString()));
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task The_chain_verifies_and_tampering_is_detected(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        for (var i = 0; i < 3; i++)
        {
            await server.CreateUserAsync();
        }
        await using var scope = server.Services.CreateAsyncScope();
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        var intact = await AuditChainVerifier.VerifyAsync(db);
        Assert.True(intact.Intact, intact.Message);
        Assert.True(intact.EventsChecked >= 6);

        // The table refuses edits outright...
        await Assert.ThrowsAnyAsync<Exception>(() => db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET details = 'x' WHERE id = 2"));
        // ...and someone who gets past that (by dropping the guard) is still caught by the chain.
        if (db.Database.IsNpgsql())
        {
            await db.Database.ExecuteSqlRawAsync("DROP TRIGGER audit_events_no_change ON audit_events");
        }
        else
        {
            await db.Database.ExecuteSqlRawAsync("DROP TRIGGER audit_events_no_update");
        }
        await db.Database.ExecuteSqlRawAsync("UPDATE audit_events SET actor_name = 'someone else' WHERE id = 2");
        var tampered = await AuditChainVerifier.VerifyAsync(db);
        Assert.False(tampered.Intact);
        Assert.Equal(2, tampered.FirstBrokenId);
    }

    [Theory, MemberData(nameof(Providers))]
    public async Task Migrations_are_recorded_and_running_them_again_changes_nothing(string provider)
    {
        await using var server = await BulwarkTestServer.StartAsync(provider);
        await using var scope = server.Services.CreateAsyncScope();
        var runner = scope.ServiceProvider.GetRequiredService<MigrationRunner>();
        Assert.Empty(await runner.MigrateAsync());
        // Every entity maps onto the hand-written schema: querying each table touches every mapped column.
        var db = scope.ServiceProvider.GetRequiredService<BulwarkDbContext>();
        foreach (var entity in db.Model.GetEntityTypes())
        {
            var set = (IQueryable<object>)typeof(DbContext).GetMethod(nameof(DbContext.Set), Type.EmptyTypes)!
                .MakeGenericMethod(entity.ClrType).Invoke(db, null)!;
            await set.Take(1).ToListAsync();
        }
    }
}
