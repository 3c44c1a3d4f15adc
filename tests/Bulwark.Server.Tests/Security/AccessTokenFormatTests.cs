using Bulwark.Server.Security;

namespace Bulwark.Server.Tests.Security;

public class AccessTokenFormatTests
{
    [Fact]
    public void Generated_tokens_have_the_prefix_and_a_valid_checksum()
    {
        var token = AccessTokenFormat.Generate();
        Assert.StartsWith("bwk_", token, StringComparison.Ordinal);
        Assert.Equal(AccessTokenFormat.Length, token.Length);
        Assert.True(AccessTokenFormat.LooksValid(token));
    }

    [Fact]
    public void A_changed_character_breaks_the_checksum()
    {
        var token = AccessTokenFormat.Generate();
        var chars = token.ToCharArray();
        chars[10] = chars[10] == 'a' ? 'b' : 'a';
        Assert.False(AccessTokenFormat.LooksValid(new string(chars)));
        Assert.False(AccessTokenFormat.LooksValid(token.AsSpan(0, token.Length - 1)));
        Assert.False(AccessTokenFormat.LooksValid("ghp_" + token.Substring(4)));
        Assert.False(AccessTokenFormat.LooksValid(""));
    }

    [Fact]
    public void Tokens_are_unique()
    {
        var tokens = Enumerable.Range(0, 1000).Select(_ => AccessTokenFormat.Generate()).ToHashSet();
        Assert.Equal(1000, tokens.Count);
    }
}
