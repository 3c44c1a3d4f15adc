using Bulwark.Protocol.Fuzzing;
using Xunit.Abstractions;

namespace Bulwark.Protocol.Tests;

public class ProtocolFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Hostile_input_never_throws_from_any_parser()
    {
        // 50,000 rounds by default; BULWARK_FUZZ_ITERATIONS=1000000 for a long run.
        long iterations = long.TryParse(Environment.GetEnvironmentVariable("BULWARK_FUZZ_ITERATIONS"), out long requested) && requested > 0 ? requested : 50_000;
        int seed = int.TryParse(Environment.GetEnvironmentVariable("BULWARK_FUZZ_SEED"), out int requestedSeed) ? requestedSeed : 20240601;
        ProtocolFuzzReport report = ProtocolFuzzer.Run(iterations, seed);
        output.WriteLine(report.ToString());
        Assert.Empty(report.Failures);
        // Every target must see both outcomes, or the mutations are not reaching the interesting paths.
        foreach (string target in new[] { "coap", "hello", "goodbye", "system-describe", "identification", "frame", "channel-stream", "key-blob", "type1-padding", "device-spki", "dtls-record", "dtls-handshake", "dtls-server" })
        {
            Assert.True(report.AcceptedByTarget[target] > 0, $"{target} never accepted an input");
            Assert.True(report.RejectedByTarget[target] > 0, $"{target} never rejected an input");
        }
    }
}
