using System.Text;
using Bulwark.Server.Security;

namespace Bulwark.Server.Tests.Security;

public class TotpTests
{
    // RFC 6238 appendix B, SHA-1 seed, 8 digits.
    [Theory]
    [InlineData(59L, "94287082")]
    [InlineData(1111111109L, "07081804")]
    [InlineData(1111111111L, "14050471")]
    [InlineData(1234567890L, "89005924")]
    [InlineData(2000000000L, "69279037")]
    [InlineData(20000000000L, "65353130")]
    public void Matches_the_RFC_6238_test_vectors(long unixTime, string expected)
    {
        var secret = Encoding.ASCII.GetBytes("12345678901234567890");
        Assert.Equal(expected, Totp.Code(secret, unixTime / 30, digits: 8));
    }

    [Fact]
    public void Accepts_one_step_of_drift_either_way_and_no_more()
    {
        var secret = Encoding.ASCII.GetBytes("12345678901234567890");
        var now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
        var step = Totp.StepAt(now);
        Assert.Equal(step - 1, Totp.MatchStep(secret, Totp.Code(secret, step - 1), now));
        Assert.Equal(step + 1, Totp.MatchStep(secret, Totp.Code(secret, step + 1), now));
        Assert.Null(Totp.MatchStep(secret, Totp.Code(secret, step - 2), now));
        Assert.Null(Totp.MatchStep(secret, "12345", now));
        Assert.Null(Totp.MatchStep(secret, "abcdef", now));
    }

    [Fact]
    public void Base32_round_trips_and_matches_RFC_4648()
    {
        Assert.Equal("MZXW6YTBOI", Base32.Encode("foobar"u8));
        Assert.Equal("foobar"u8.ToArray(), Base32.Decode("MZXW6YTBOI======"));
        var random = System.Security.Cryptography.RandomNumberGenerator.GetBytes(20);
        Assert.Equal(random, Base32.Decode(Base32.Encode(random)));
    }
}
