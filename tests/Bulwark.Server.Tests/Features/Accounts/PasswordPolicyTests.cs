using Bulwark.Server.Features.Accounts;
using Bulwark.Server.Hosting;

namespace Bulwark.Server.Tests.Features.Accounts;

public class PasswordPolicyTests
{
    private static readonly CommonPasswordList Embedded = CommonPasswordList.LoadEmbedded();
    private readonly PasswordPolicy _policy = new(new PasswordOptions(), Embedded);

    [Fact]
    public void The_shipped_list_has_at_least_100000_entries() => Assert.True(Embedded.Count >= 100_000, $"only {Embedded.Count}");

    [Theory]
    [InlineData("password")]
    [InlineData("PASSWORD1")]
    [InlineData("12345678")]
    [InlineData("iloveyou")]
    [InlineData("qwertyuiop")]
    public void Common_passwords_are_refused(string password) =>
        Assert.Contains("common or breached", _policy.Check(password, "someone@example.com")?.Reason, StringComparison.Ordinal);

    [Theory]
    [InlineData("")]
    [InlineData("short")]
    [InlineData("7chars!")]
    public void Short_passwords_are_refused(string password) => Assert.NotNull(_policy.Check(password, "someone@example.com"));

    [Theory]
    [InlineData("correct horse battery staple")]     // spaces are allowed
    [InlineData("tr0ub4dor&3xyz")]
    [InlineData("ünïcödé pässwörd ✓")]              // any printable Unicode
    [InlineData("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab")] // longer than 64
    [InlineData("alllowercasenodigits")]             // no composition rules
    public void Acceptable_passwords_pass(string password) => Assert.Null(_policy.Check(password, "someone@example.com"));

    [Fact]
    public void A_password_containing_the_username_is_refused()
    {
        Assert.Contains("username", _policy.Check("xx-someone@example.com-yy", "someone@example.com")?.Reason, StringComparison.Ordinal);
        Assert.Contains("username", _policy.Check("Someone is great 42", "someone@example.com")?.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Control_characters_and_single_repeated_characters_are_refused()
    {
        Assert.NotNull(_policy.Check("tab\there okay", "someone@example.com"));
        Assert.NotNull(_policy.Check("zzzzzzzzzzzz", "someone@example.com"));
        Assert.NotNull(_policy.Check("           ", "someone@example.com"));
    }

    [Fact]
    public void The_minimum_length_can_be_raised()
    {
        var strict = new PasswordPolicy(new PasswordOptions { MinimumLength = 15 }, Embedded);
        Assert.NotNull(strict.Check("fourteen chars", "someone@example.com"));
        Assert.Null(strict.Check("fifteen chars!!", "someone@example.com"));
    }

    [Fact]
    public void Length_counts_code_points_not_utf16_units()
    {
        // Four emoji are 8 UTF-16 units but only 4 characters.
        Assert.NotNull(_policy.Check("😀😁😂🤣", "someone@example.com"));
    }
}
