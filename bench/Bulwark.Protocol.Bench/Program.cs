using System.Diagnostics;
using Bulwark.Protocol.Fuzzing;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;

// bulwark protocol bench:
//   fuzz [iterations=1000000] [seed]   run the protocol fuzzer and report memory before/after (exit 1 on any failure)
//   handshake [seconds=5]              server-side Gen2 handshake crypto per second, libcrypto vs BigInteger signing
string command = args.Length > 0 ? args[0] : "fuzz";
switch (command)
{
    case "fuzz":
    {
        long iterations = args.Length > 1 ? long.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 1_000_000;
        int seed = args.Length > 2 ? int.Parse(args[2], System.Globalization.CultureInfo.InvariantCulture) : 20240601;
        ProtocolFuzzReport report = ProtocolFuzzer.Run(iterations, seed);
        Console.WriteLine(report);
        return report.Failures.Count == 0 ? 0 : 1;
    }

    case "handshake":
    {
        double seconds = args.Length > 1 ? double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture) : 5;
        using ServerPrivateKey serverKey = ServerPrivateKey.Generate();
        using DevicePrivateKey deviceKey = DevicePrivateKey.Generate();
        var deviceId = Bulwark.Protocol.DeviceId.Parse("0123456789abcdef01234567");
        var server = new Gen2ServerHandshake(serverKey);
        var device = new Gen2DeviceHandshake(deviceKey, deviceId, ServerPublicKey.FromSpki(serverKey.PublicKeySpki));
        byte[] nonce = new byte[40];
        byte[] identification = device.CreateIdentification(nonce);
        DevicePublicKey registered = deviceKey.PublicKey;

        Console.WriteLine($"libcrypto signer: {serverKey.UsesNativeSigner}");
        Measure("server handshake crypto (decrypt + encrypt + sign)", seconds, () =>
        {
            if (!server.TryOpenIdentification(identification, nonce, out _, out _, out _))
            {
                throw new InvalidOperationException("identification did not open");
            }

            server.CreateReply(registered, SessionKeys.Generate());
        });
        var signature = new byte[256];
        var hmac = new byte[20];
        Measure("type-1 sign, libcrypto", seconds, () => serverKey.SignPkcs1Type1Native(hmac, signature));
        Measure("type-1 sign, BigInteger fallback", seconds, () => serverKey.SignPkcs1Type1Managed(hmac, signature));
        return 0;
    }

    default:
        Console.Error.WriteLine("usage: fuzz [iterations] [seed] | handshake [seconds]");
        return 2;
}

// Reports CPU time per operation as well as wall time: on a shared, loaded machine wall time mostly measures the neighbours.
static void Measure(string name, double seconds, Action action)
{
    action();
    using var process = Process.GetCurrentProcess();
    TimeSpan cpuBefore = process.TotalProcessorTime;
    var stopwatch = Stopwatch.StartNew();
    long count = 0;
    while (stopwatch.Elapsed.TotalSeconds < seconds)
    {
        action();
        count++;
    }

    stopwatch.Stop();
    process.Refresh();
    double cpuMicroseconds = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds * 1000 / count;
    double wallMicroseconds = stopwatch.Elapsed.TotalMilliseconds * 1000 / count;
    Console.WriteLine($"{name}: {cpuMicroseconds:N0} µs CPU each (~{1_000_000 / cpuMicroseconds:N0}/s per core); wall {wallMicroseconds:N0} µs, n={count:N0}");
}
