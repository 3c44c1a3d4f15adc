using System.Diagnostics;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Dtls;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Keys;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Fuzzing;

/// <summary>One input that made a parser throw or break an invariant.</summary>
public sealed record ProtocolFuzzFailure(string Target, long Iteration, string InputHex, string Problem);

/// <summary>What a fuzz run did, and how memory looked before and after.</summary>
public sealed record ProtocolFuzzReport(
    long Iterations,
    int Seed,
    TimeSpan Elapsed,
    IReadOnlyDictionary<string, long> AcceptedByTarget,
    IReadOnlyDictionary<string, long> RejectedByTarget,
    IReadOnlyDictionary<string, TimeSpan> TimeByTarget,
    IReadOnlyList<ProtocolFuzzFailure> Failures,
    long ManagedMemoryBefore,
    long ManagedMemoryAfter,
    long AllocatedBytes,
    long WorkingSetBefore,
    long WorkingSetAfter)
{
    public override string ToString()
    {
        var lines = new List<string>
        {
            $"iterations={Iterations:N0} seed={Seed} elapsed={Elapsed.TotalSeconds:F1}s failures={Failures.Count}",
            $"managed heap before={ManagedMemoryBefore / 1024:N0} KiB after={ManagedMemoryAfter / 1024:N0} KiB; allocated={AllocatedBytes / (1024 * 1024):N0} MiB; working set before={WorkingSetBefore / (1024 * 1024):N0} MiB after={WorkingSetAfter / (1024 * 1024):N0} MiB",
        };
        lines.AddRange(AcceptedByTarget.Keys.Order().Select(t => $"  {t}: accepted={AcceptedByTarget[t]:N0} rejected={RejectedByTarget.GetValueOrDefault(t):N0} time={TimeByTarget.GetValueOrDefault(t).TotalSeconds:F1}s"));
        lines.AddRange(Failures.Take(10).Select(f => $"  FAIL {f.Target} #{f.Iteration}: {f.Problem} input={f.InputHex}"));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>
/// Random and mutated inputs against every parser that sees bytes from the network: CoAP decode (with a byte-exact
/// re-encode invariant), the Particle message parsers, Hello, Goodbye, the handshake messages (both sides), the channel's
/// frame decryption and stream framing, and the server key blob. Any exception is a failure: hostile input must only
/// ever produce a "rejected" result.
/// </summary>
public sealed class ProtocolFuzzer : IDisposable
{
    private const int MaxRecordedFailures = 50;
    // RSA operations cost ~1 ms; run them on a slice of iterations so a million iterations stay in minutes.
    private const int RsaEvery = 1000;

    private static readonly byte[] InterestingBytes = [0x00, 0x01, 0x0C, 0x0D, 0x0E, 0x0F, 0x10, 0x40, 0x7F, 0x80, 0xB1, 0xD0, 0xE0, 0xFF];

    private readonly Random _random;
    private readonly int _seed;
    private readonly ServerPrivateKey _serverKey;
    private readonly DevicePrivateKey _deviceKey;
    private readonly Gen2ServerHandshake _serverHandshake;
    private readonly Gen2DeviceHandshake _deviceHandshake;
    private readonly byte[][] _coapCorpus;
    private readonly byte[][] _helloCorpus;
    private readonly byte[][] _describeCorpus;
    private readonly byte[] _nonce;
    private readonly byte[] _identificationPlaintext;
    private readonly byte[] _identificationCiphertext;
    private readonly byte[] _validReply;
    private readonly byte[] _signatureBlock;
    private readonly byte[] _keyBlob;
    private readonly SessionKeys _sessionKeys;
    private readonly Gen2FrameCipher _garbageCipher;
    private readonly DtlsFuzzTargets _dtls = new();
    private readonly Dictionary<string, long> _accepted = [];
    private readonly Dictionary<string, long> _rejected = [];
    private readonly Dictionary<string, TimeSpan> _time = [];
    private readonly List<ProtocolFuzzFailure> _failures = [];
    private long _iteration;

    /// <summary>Creates a fuzzer with fresh throw-away keys; the same seed replays the same inputs.</summary>
    public ProtocolFuzzer(int seed)
    {
        _seed = seed;
        _random = new Random(seed);
        _serverKey = ServerPrivateKey.Generate();
        _deviceKey = DevicePrivateKey.Generate();
        DeviceId deviceId = DeviceId.FromBytes(Bytes(12));
        _serverHandshake = new Gen2ServerHandshake(_serverKey);
        _deviceHandshake = new Gen2DeviceHandshake(_deviceKey, deviceId, ServerPublicKey.FromSpki(_serverKey.PublicKeySpki));
        _nonce = Bytes(Gen2ServerHandshake.NonceLength);
        _identificationPlaintext = [.. _nonce, .. deviceId.ToArray(), .. _deviceKey.PublicKey.ToDeviceSpki()];
        _identificationCiphertext = _deviceHandshake.CreateIdentification(_nonce);
        _sessionKeys = SessionKeys.Generate();
        _validReply = _serverHandshake.CreateReply(_deviceKey.PublicKey, _sessionKeys);
        _signatureBlock = new byte[256];
        Pkcs1Type1Padding.Pad(Bytes(20), _signatureBlock);
        _keyBlob = ServerKeyBlob.ForTcp(_serverKey.PublicKeySpki, "device.example.com", 5683);
        _garbageCipher = new Gen2FrameCipher(_sessionKeys.Key, _sessionKeys.Iv);

        var hello = new HelloPayload(3, 7, (HelloFlags)0x36, 3, null, 6200, 1152, 10485760, 512);
        _helloCorpus = [hello.ToArray(), (hello with { DeviceId = deviceId }).ToArray()];
        _describeCorpus = CreateDescribeCorpus();
        _coapCorpus =
        [
            ParticleMessages.Describe(18, DescribeFlags.System, _describeCorpus[0], 42).ToArray(),
            ParticleMessages.Ping(0x1234).ToArray(),
            ParticleMessages.EmptyAck(1).ToArray(),
            ParticleMessages.DeviceHello(CoapMessageType.NonConfirmable, 0x08FB, hello).ToArray(),
            ParticleMessages.ServerHello(2).ToArray(),
            ParticleMessages.TimeRequest(3, 7).ToArray(),
            ParticleMessages.Describe(4, DescribeFlags.Application, "{\"f\":[\"led\"],\"v\":{\"t\":2}}"u8.ToArray()).ToArray(),
            ParticleMessages.DescribeRequest(5, 1, DescribeFlags.System).ToArray(),
            ParticleMessages.Event(CoapMessageType.NonConfirmable, 6, "particle/device/updates/enabled", "true"u8.ToArray(), 3600, 60).ToArray(),
            ParticleMessages.Subscribe(CoapMessageType.NonConfirmable, 7, "particle", "c").ToArray(),
            ParticleMessages.FunctionCall(8, 9, "led", new string('a', 300)).ToArray(),
            ParticleMessages.VariableRequest(9, 1, "temp").ToArray(),
            ParticleMessages.FunctionReturn(CoapMessageType.NonConfirmable, 10, new byte[] { 9 }, 5).ToArray(),
            ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, 11, new GoodbyeMessage(1, 2, 300, 4)).ToArray(),
            ParticleMessages.UpdateBegin(12, 5, new UpdateBeginParameters(1, 512, 70000, 0, 0)).ToArray(),
            ParticleMessages.Chunk(13, 5, Bytes(64), 3).ToArray(),
            ParticleMessages.ChunkMissed(CoapMessageType.NonConfirmable, 14, [1, 2, 3]).ToArray(),
            ParticleMessages.Signal(15, 1, true).ToArray(),
            ParticleMessages.KeyChange(16, 1).ToArray(),
            new UpdateStartRequest(70000, 512, Bytes(OtaV3.Sha256Length), DiscardData: true).ToMessage(18, Bytes(1)).ToArray(),
            new UpdateStartResponse(256, 1024).ToMessage(CoapMessageType.Confirmable, 19, Bytes(1)).ToArray(),
            new UpdateChunkRequest(300, Bytes(40)).ToMessage(20).ToArray(),
            new UpdateFinishRequest(CancelUpdate: true, DiscardData: true).ToMessage(21, Bytes(1)).ToArray(),
            UpdateAck.Create(3, [5, 40, 70]).ToMessage(22).ToArray(),
            new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, 17, Bytes(8),
                [CoapOption.FromString(CoapOptionNumber.UriPath, "C"), CoapOption.FromFixedUInt(CoapOptionNumber.OtaChunkIndex, 5, 2), new CoapOption(CoapOptionNumber.NoResponse, Bytes(1))], Bytes(30)).ToArray(),
        ];
    }

    /// <summary>Runs <paramref name="iterations"/> rounds (every target each round) and reports.</summary>
    public static ProtocolFuzzReport Run(long iterations, int seed = 20240601)
    {
        using var fuzzer = new ProtocolFuzzer(seed);
        return fuzzer.RunIterations(iterations);
    }

    /// <summary>Runs more rounds on this instance.</summary>
    public ProtocolFuzzReport RunIterations(long iterations)
    {
        long heapBefore = GC.GetTotalMemory(forceFullCollection: true);
        long allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        long workingSetBefore = Environment.WorkingSet;
        var stopwatch = Stopwatch.StartNew();
        for (long i = 0; i < iterations; i++)
        {
            _iteration++;
            Guard("coap", FuzzCoap);
            Guard("hello", FuzzHello);
            Guard("goodbye", FuzzGoodbye);
            Guard("identification", FuzzIdentificationParse);
            Guard("device-spki", FuzzDeviceSpki);
            Guard("type1-padding", FuzzTypeOnePadding);
            Guard("frame", FuzzFrame);
            Guard("key-blob", FuzzKeyBlob);
            Guard("system-describe", FuzzSystemDescribe);
            Guard("dtls-record", FuzzDtlsRecord);
            Guard("dtls-handshake", FuzzDtlsHandshake);
            Guard("dtls-server", FuzzDtlsServer);
            if (_iteration % 16 == 0)
            {
                Guard("channel-stream", FuzzChannelStream);
            }

            if (_iteration % RsaEvery == 0)
            {
                Guard("server-handshake-rsa", FuzzServerHandshakeRsa);
                Guard("device-handshake-rsa", FuzzDeviceHandshakeRsa);
            }
        }

        stopwatch.Stop();
        long heapAfter = GC.GetTotalMemory(forceFullCollection: true);
        return new ProtocolFuzzReport(
            iterations,
            _seed,
            stopwatch.Elapsed,
            new Dictionary<string, long>(_accepted),
            new Dictionary<string, long>(_rejected),
            new Dictionary<string, TimeSpan>(_time),
            _failures.ToArray(),
            heapBefore,
            heapAfter,
            GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore,
            workingSetBefore,
            Environment.WorkingSet);
    }

    public void Dispose()
    {
        _dtls.Dispose();
        _garbageCipher.Dispose();
        _serverKey.Dispose();
        _deviceKey.Dispose();
    }

    private bool FuzzCoap(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(4) == 0 ? Bytes(_random.Next(0, 48)) : Mutate(Pick(_coapCorpus));
        setInput(input);
        if (!CoapMessage.TryDecode(input, out CoapMessage? message, out CoapDecodeError error))
        {
            return error == CoapDecodeError.None ? throw new InvalidOperationException("Rejected without a reason.") : false;
        }

        // Option and length encodings are canonical, so a decoded message must re-encode to the very same bytes.
        byte[] reencoded = message.ToArray();
        if (!reencoded.AsSpan().SequenceEqual(input))
        {
            throw new InvalidOperationException($"Re-encode differs: {Convert.ToHexString(reencoded)}");
        }

        ExerciseParticleParsers(message);
        return true;
    }

    private static void ExerciseParticleParsers(CoapMessage message)
    {
        _ = message.ToString();
        _ = message.GetUriPath();
        _ = message.GetUriQueries();
        switch (ParticleMessageClassifier.Classify(message))
        {
            case ParticleMessageKind.Hello:
                HelloPayload.TryParse(message.Payload.Span, out _, out _);
                break;
            case ParticleMessageKind.Event:
                EventMessage.TryParse(message, out _);
                break;
            case ParticleMessageKind.Subscribe:
                SubscribeRequest.TryParse(message, out _);
                break;
            case ParticleMessageKind.FunctionCall:
                FunctionCallRequest.TryParse(message, out _);
                break;
            case ParticleMessageKind.VariableRequest:
                VariableRequest.TryParse(message, out _);
                break;
            case ParticleMessageKind.Chunk:
                if (ChunkMessage.TryParse(message, out ChunkMessage? chunk))
                {
                    _ = chunk.IsCrcValid;
                }

                break;
            case ParticleMessageKind.ChunkMissed:
                ParticleMessages.TryReadChunkMissed(message, out _);
                break;
            case ParticleMessageKind.Goodbye:
                GoodbyeMessage.TryParse(message.Payload.Span, out _);
                break;
            case ParticleMessageKind.Describe:
                if (SystemDescribe.TryParse(message.Payload.Span, out SystemDescribe? describe, out _))
                {
                    _ = describe.ToModulesJson();
                }

                break;
            case ParticleMessageKind.UpdateBegin:
                UpdateBeginParameters.TryParse(message.Payload.Span, out _);
                break;
            case ParticleMessageKind.UpdateStartV3:
                UpdateStartRequest.TryParse(message, 1024, out _, out _);
                break;
            case ParticleMessageKind.UpdateChunkV3:
                UpdateChunkRequest.TryParse(message, out _, out _);
                break;
            case ParticleMessageKind.UpdateFinishV3:
                UpdateFinishRequest.TryParse(message, out _, out _);
                break;
            case ParticleMessageKind.UpdateAckV3:
                if (UpdateAck.TryParse(message, out UpdateAck? ack))
                {
                    _ = ack.SelectivelyAcknowledged;
                }

                break;
            case ParticleMessageKind.Response:
                UpdateStartResponse.TryParse(message, out _);
                OtaV3Diagnostic.TryParse(message.Payload.Span, out _);
                ParticleMessages.TryReadFunctionReturn(message, out _);
                ParticleMessages.TryReadTimeResponse(message, out _);
                _ = ParticleMessages.GetPayloadText(message);
                break;
        }
    }

    private bool FuzzHello(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(4) == 0 ? Bytes(_random.Next(0, 40)) : Mutate(Pick(_helloCorpus));
        setInput(input);
        if (!HelloPayload.TryParse(input, out HelloPayload? hello, out _))
        {
            return false;
        }

        // A parsed Hello rebuilds with the same leading fields and device ID (byte 8 is reserved and written as 0).
        byte[] rebuilt = hello.ToArray();
        int fixedLength = 10 + (hello.DeviceId is null ? 0 : 12);
        if (!rebuilt.AsSpan(0, 8).SequenceEqual(input.AsSpan(0, 8)) || !rebuilt.AsSpan(9, fixedLength - 9).SequenceEqual(input.AsSpan(9, fixedLength - 9)))
        {
            throw new InvalidOperationException("Hello rebuild changed the fixed fields.");
        }

        return true;
    }

    private bool FuzzGoodbye(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(2) == 0 ? Bytes(_random.Next(0, 24)) : Mutate(new GoodbyeMessage(1, 2, 300, 4).ToArray());
        setInput(input);
        return GoodbyeMessage.TryParse(input, out _);
    }

    private bool FuzzSystemDescribe(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 64)) : Mutate(Pick(_describeCorpus));
        setInput(input);
        if (!SystemDescribe.TryParse(input, out SystemDescribe? describe, out SystemDescribeParseError error))
        {
            return error == SystemDescribeParseError.None ? throw new InvalidOperationException("Rejected without a reason.") : false;
        }

        // The canonical re-encoding is never longer, parses again, and is a fixed point.
        byte[] canonical = describe.ToArray();
        if (canonical.Length > input.Length)
        {
            throw new InvalidOperationException($"Re-encode grew: {Convert.ToHexString(canonical)}");
        }

        if (!SystemDescribe.TryParse(canonical, out SystemDescribe? again, out error) || !again.ToArray().AsSpan().SequenceEqual(canonical))
        {
            throw new InvalidOperationException($"Re-encode does not round-trip ({error}): {Convert.ToHexString(canonical)}");
        }

        _ = describe.ToModulesJson();
        return true;
    }

    // A gcc-like set as the simulator sends it, and one with every field (explicit zeros, cellular strings, assets).
    private static byte[][] CreateDescribeCorpus()
    {
        var dependency = new DescribeModuleDependency(DescribeModuleType.SystemPart, 1, 6200);
        var asset = new DescribeModuleAsset(new byte[32], "asset.bin", 1000, 600);
        var modules = new[]
        {
            new DescribeModule { Type = DescribeModuleType.Bootloader, Version = 3000, MaxSize = 65536, Size = 40960, CheckedFlags = 0x1E, PassedFlags = 0x1E,
                Security = new DescribeModuleSecurity(DescribeSecurityMode.Protected, new byte[32]) },
            new DescribeModule { Type = DescribeModuleType.SystemPart, Index = 1, Version = 6200, MaxSize = 10485760, Size = 10485764, CheckedFlags = 0x1E, PassedFlags = 0x1E,
                Dependencies = [new DescribeModuleDependency(DescribeModuleType.Bootloader, 0, 3000)] },
            new DescribeModule { Type = DescribeModuleType.UserPart, Index = 1, Version = 7, MaxSize = 131072, Size = 4096, CheckedFlags = 0x1E, PassedFlags = 0x1A,
                Hash = new byte[32], Dependencies = [dependency], AssetDependencies = [asset] },
        };
        return
        [
            new SystemDescribe { Modules = modules }.ToArray(),
            new SystemDescribe
            {
                Modules = modules, Imei = "353162075123456", Iccid = "8934076500002587657", ModemFirmwareVersion = "SARA-R410M",
                Assets = [asset], ProtectedState = true, EnvVarsHash = [1, 2, 3, 4],
            }.ToArray(),
            // protobufjs with explicit zeros (index 0, store 0, empty fingerprint).
            Convert.FromHexString("0a210802100018b009200028808004351e0000003d1e0000005880c0026204080112000a240804100118b8302880808005351e0000003d1e0000004a070802100018b00958848080053001"),
        ];
    }

    private bool FuzzIdentificationParse(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 256)) : Mutate(_identificationPlaintext);
        setInput(input);
        bool accepted = Gen2ServerHandshake.TryParseIdentification(input, _nonce, out Gen2DeviceIdentification identification, out Gen2HandshakeRefusal refusal);
        if (accepted)
        {
            DevicePublicKey.TryFromDeviceSpki(identification.PresentedSpki, out _);
        }
        else if (refusal == Gen2HandshakeRefusal.None)
        {
            throw new InvalidOperationException("Rejected without a reason.");
        }

        return accepted;
    }

    private bool FuzzDeviceSpki(Action<byte[]> setInput)
    {
        // Rarely mutate: building an RSA object for each accepted key is the expensive part.
        byte[] input = _random.Next(16) == 0 ? _deviceKey.PublicKey.ToDeviceSpki() : Mutate(_deviceKey.PublicKey.ToDeviceSpki(), forceChange: true);
        setInput(input);
        return DevicePublicKey.TryFromDeviceSpki(input, out _);
    }

    private bool FuzzTypeOnePadding(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(4) == 0 ? Bytes(_random.Next(0, 300)) : Mutate(_signatureBlock);
        setInput(input);
        return Pkcs1Type1Padding.TryUnpad(input, out _);
    }

    private bool FuzzFrame(Action<byte[]> setInput)
    {
        int roll = _random.Next(8);
        if (roll == 0)
        {
            // A well-formed frame, possibly mutated, through a fresh pair of chained ciphers.
            using var sender = new Gen2FrameCipher(_sessionKeys.Key, _sessionKeys.Iv);
            using var receiver = new Gen2FrameCipher(_sessionKeys.Key, _sessionKeys.Iv);
            byte[] plaintext = Pick(_coapCorpus);
            var ciphertext = new byte[Gen2FrameCipher.GetCiphertextLength(plaintext.Length)];
            sender.Encrypt(plaintext, ciphertext);
            byte[] input = _random.Next(2) == 0 ? ciphertext : Mutate(ciphertext);
            setInput(input);
            return DecodeFrame(receiver, input);
        }

        byte[] garbage = Bytes(roll == 1 ? _random.Next(0, 80) : 16 * _random.Next(1, 5));
        setInput(garbage);
        Gen2Channel.CheckFrameLength(garbage.Length, 2048);
        return DecodeFrame(_garbageCipher, garbage);
    }

    private static bool DecodeFrame(Gen2FrameCipher cipher, byte[] ciphertext)
    {
        if (ciphertext.Length == 0 || ciphertext.Length % Gen2FrameCipher.BlockLength != 0)
        {
            var scratch = new byte[ciphertext.Length];
            return cipher.TryDecrypt(ciphertext, scratch, out _, out _);
        }

        CoapReceiveResult result = Gen2Channel.DecodeFrame(cipher, ciphertext);
        if (result.Message is not null)
        {
            ExerciseParticleParsers(result.Message);
        }

        return result.Succeeded;
    }

    private bool FuzzChannelStream(Action<byte[]> setInput)
    {
        // Build a wire capture of a few valid frames from the device, then damage it.
        var wire = new MemoryStream();
        using (var sender = new Gen2FrameCipher(_sessionKeys.Key, _sessionKeys.Iv))
        {
            for (int i = _random.Next(1, 4); i > 0; i--)
            {
                byte[] plaintext = Pick(_coapCorpus);
                var frame = new byte[2 + Gen2FrameCipher.GetCiphertextLength(plaintext.Length)];
                int length = sender.Encrypt(plaintext, frame.AsSpan(2));
                frame[0] = (byte)(length >> 8);
                frame[1] = (byte)length;
                wire.Write(frame);
            }
        }

        byte[] input = _random.Next(4) == 0 ? wire.ToArray() : Mutate(wire.ToArray());
        setInput(input);
        // MemoryStream completes synchronously, so this does not block a thread on I/O.
        using var channel = new Gen2Channel(new MemoryStream(input), _sessionKeys, new Gen2ChannelOptions { MaxIncomingFrameLength = 1184 });
        bool any = false;
        for (int frames = 0; frames < 8; frames++)
        {
            CoapReceiveResult result = channel.ReceiveAsync().AsTask().GetAwaiter().GetResult();
            if (!result.Succeeded)
            {
                break;
            }

            any = true;
            ExerciseParticleParsers(result.Message!);
        }

        return any;
    }

    private bool FuzzDtlsRecord(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 64)) : Mutate(_dtls.PickDatagram(_random));
        setInput(input);
        return _dtls.FuzzRecord(input);
    }

    private bool FuzzDtlsHandshake(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 64)) : Mutate(_dtls.PickHandshakeRecord(_random));
        setInput(input);
        return _dtls.FuzzHandshake(input);
    }

    private bool FuzzDtlsServer(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 64)) : Mutate(_dtls.PickDatagram(_random));
        setInput(input);
        bool accepted = _dtls.FuzzServer(input);
        // Nothing but a cookie-verified hello may create state, and the server's cookie secret is not in the corpus.
        return _dtls.SessionCount != 0 ? throw new InvalidOperationException("Server state from an unverified datagram.") : accepted;
    }

    private bool FuzzKeyBlob(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(8) == 0 ? Bytes(_random.Next(0, 600)) : Mutate(_keyBlob);
        setInput(input);
        return ServerKeyBlob.TryParse(input, out _);
    }

    private bool FuzzServerHandshakeRsa(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(2) == 0 ? Bytes(256) : Mutate(_identificationCiphertext, forceChange: true);
        setInput(input);
        bool accepted = _serverHandshake.TryOpenIdentification(input, _nonce, out _, out _, out Gen2HandshakeRefusal refusal);
        return accepted || refusal == Gen2HandshakeRefusal.None ? throw new InvalidOperationException("Damaged identification accepted.") : false;
    }

    private bool FuzzDeviceHandshakeRsa(Action<byte[]> setInput)
    {
        byte[] input = _random.Next(4) == 0 ? _validReply : Mutate(_validReply, forceChange: true);
        setInput(input);
        bool accepted = _deviceHandshake.TryAcceptReply(input, out _, out _);
        if (accepted && !input.AsSpan().SequenceEqual(_validReply))
        {
            throw new InvalidOperationException("A tampered server reply verified.");
        }

        return accepted;
    }

    private void Guard(string target, Func<Action<byte[]>, bool> run)
    {
        byte[] input = [];
        long started = Stopwatch.GetTimestamp();
        try
        {
            bool accepted = run(i => input = i);
            Count(accepted ? _accepted : _rejected, target);
        }
        catch (Exception ex)
        {
            if (_failures.Count < MaxRecordedFailures)
            {
                string hex = Convert.ToHexString(input.AsSpan(0, Math.Min(input.Length, 512)));
                _failures.Add(new ProtocolFuzzFailure(target, _iteration, hex, $"{ex.GetType().Name}: {ex.Message}"));
            }

            Count(_rejected, target);
        }

        _time[target] = _time.GetValueOrDefault(target) + Stopwatch.GetElapsedTime(started);
        if (!_accepted.ContainsKey(target))
        {
            _accepted[target] = 0;
        }
    }

    private static void Count(Dictionary<string, long> counts, string target) => counts[target] = counts.GetValueOrDefault(target) + 1;

    private byte[] Pick(byte[][] corpus) => corpus[_random.Next(corpus.Length)];

    private byte[] Bytes(int length)
    {
        var bytes = new byte[length];
        _random.NextBytes(bytes);
        return bytes;
    }

    // One to four stacked mutations: bit flips, interesting bytes, inserts, deletes, truncation, block duplication.
    private byte[] Mutate(byte[] seed, bool forceChange = false)
    {
        var data = new List<byte>(seed);
        int rounds = _random.Next(1, 5);
        for (int r = 0; r < rounds; r++)
        {
            int position = data.Count == 0 ? 0 : _random.Next(data.Count);
            switch (_random.Next(7))
            {
                case 0 when data.Count > 0:
                    data[position] ^= (byte)(1 << _random.Next(8));
                    break;
                case 1 when data.Count > 0:
                    data[position] = InterestingBytes[_random.Next(InterestingBytes.Length)];
                    break;
                case 2:
                    data.Insert(position, (byte)_random.Next(256));
                    break;
                case 3 when data.Count > 0:
                    data.RemoveAt(position);
                    break;
                case 4:
                    data.RemoveRange(position, data.Count - position);
                    break;
                case 5 when data.Count > 0:
                    int length = Math.Min(_random.Next(1, 17), data.Count - position);
                    data.InsertRange(position, data.GetRange(position, length));
                    break;
                default:
                    if (data.Count > 0)
                    {
                        data[position] = (byte)_random.Next(256);
                    }

                    break;
            }
        }

        byte[] result = data.ToArray();
        if (forceChange && result.AsSpan().SequenceEqual(seed))
        {
            result = [.. result, 0x00];
        }

        return result;
    }
}
