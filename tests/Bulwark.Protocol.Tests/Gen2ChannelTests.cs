using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Gen2;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Tests;

public class Gen2ChannelTests
{
    private const string KeyHex = "000102030405060708090a0b0c0d0e0f";
    private const string IvHex = "101112131415161718191a1b1c1d1e1f";

    // openssl enc -aes-128-cbc -K $KEY -iv $IV, each message restarting CBC with the chained IV.
    private const string PingPlain = "40001234";
    private const string PingCipher = "5b4ca9c8ffc934a9c5e269ab5914ebd2";
    private const string HelloPlain = "500208fbb168ff000300070036000300001838048000a000000200";
    private const string HelloCipher = "0a1e9a0cf2bccdb31e63ae5326355c5772ab60ff6f5303df9ba91490c2856275";
    private const string SecondPingPlain = "40001235";
    // IV here = first 16 bytes of HelloCipher (0a1e9a0c...), not its last block.
    private const string SecondPingCipher = "1f83fff5efb73060c08a365059a56d53";

    private static SessionKeys Keys() => SessionKeys.FromBytes(Convert.FromHexString(KeyHex + IvHex + "fa08a1a2a3a4a5a6"));

    [Fact]
    public void Iv_chains_from_the_first_block_of_the_previous_ciphertext()
    {
        using var cipher = new Gen2FrameCipher(Convert.FromHexString(KeyHex), Convert.FromHexString(IvHex));
        Assert.Equal(PingCipher, Encrypt(cipher, PingPlain));
        Assert.Equal(PingCipher, Convert.ToHexStringLower(cipher.CurrentIv));
        Assert.Equal(HelloCipher, Encrypt(cipher, HelloPlain));
        Assert.Equal(HelloCipher[..32], Convert.ToHexStringLower(cipher.CurrentIv));
        Assert.Equal(SecondPingCipher, Encrypt(cipher, SecondPingPlain));
    }

    [Fact]
    public void Receive_side_follows_the_same_chain()
    {
        using var cipher = new Gen2FrameCipher(Convert.FromHexString(KeyHex), Convert.FromHexString(IvHex));
        Assert.Equal(PingPlain, Decrypt(cipher, PingCipher));
        Assert.Equal(HelloPlain, Decrypt(cipher, HelloCipher));
        Assert.Equal(SecondPingPlain, Decrypt(cipher, SecondPingCipher));
    }

    [Fact]
    public void Padding_is_always_one_to_sixteen_bytes()
    {
        Assert.Equal(16, Gen2FrameCipher.GetCiphertextLength(0));
        Assert.Equal(16, Gen2FrameCipher.GetCiphertextLength(15));
        Assert.Equal(32, Gen2FrameCipher.GetCiphertextLength(16));
    }

    [Fact]
    public async Task Channel_writes_length_prefixed_frames_a_device_can_read()
    {
        await using var pair = await LoopbackPair.CreateAsync();
        await using var server = new Gen2Channel(pair.Server, Keys(), leaveOpen: true);
        await server.SendAsync(ParticleMessages.Ping(0x1234));
        var frame = new byte[18];
        await pair.Client.ReadExactlyAsync(frame);
        Assert.Equal("0010" + PingCipher, Convert.ToHexStringLower(frame));
    }

    [Fact]
    public async Task Channel_reads_the_device_hello_vector()
    {
        await using var pair = await LoopbackPair.CreateAsync();
        await using var server = new Gen2Channel(pair.Server, Keys(), leaveOpen: true);
        // The device's first frames on the wire, chained from the session IV.
        await pair.Client.WriteAsync(Convert.FromHexString("0010" + PingCipher + "0020" + HelloCipher));
        CoapReceiveResult first = await server.ReceiveAsync();
        Assert.Equal(ParticleMessageKind.Ping, ParticleMessageClassifier.Classify(first.Message!));
        CoapReceiveResult second = await server.ReceiveAsync();
        Assert.True(second.Succeeded, second.ToString());
        Assert.Equal(ParticleMessageKind.Hello, ParticleMessageClassifier.Classify(second.Message!));
        Assert.Equal(0x08FB, second.Message!.MessageId);
    }

    [Fact]
    public async Task Two_channels_talk_both_ways_with_independent_chains()
    {
        await using var pair = await LoopbackPair.CreateAsync();
        await using var server = new Gen2Channel(pair.Server, Keys(), leaveOpen: true);
        await using var device = new Gen2Channel(pair.Client, Keys(), leaveOpen: true);
        for (int i = 0; i < 20; i++)
        {
            await device.SendAsync(ParticleMessages.Event(CoapMessageType.NonConfirmable, device.NextMessageId(), "e" + i, new byte[i * 37]));
            await server.SendAsync(ParticleMessages.Ping(server.NextMessageId()));
        }

        for (int i = 0; i < 20; i++)
        {
            CoapReceiveResult atServer = await server.ReceiveAsync();
            Assert.True(EventMessage.TryParse(atServer.Message!, out EventMessage? evt));
            Assert.Equal("e" + i, evt.Name);
            Assert.Equal(i * 37, evt.Data.Length);
            Assert.Equal(ParticleMessageKind.Ping, ParticleMessageClassifier.Classify((await device.ReceiveAsync()).Message!));
        }
    }

    [Fact]
    public async Task Concurrent_senders_keep_the_chain_in_wire_order()
    {
        await using var pair = await LoopbackPair.CreateAsync();
        await using var server = new Gen2Channel(pair.Server, Keys(), leaveOpen: true);
        await using var device = new Gen2Channel(pair.Client, Keys(), leaveOpen: true);
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => Task.Run(() => server.SendAsync(ParticleMessages.Ping((ushort)i)).AsTask())));
        var seen = new HashSet<ushort>();
        for (int i = 0; i < 200; i++)
        {
            CoapReceiveResult result = await device.ReceiveAsync();
            Assert.True(result.Succeeded, result.ToString());
            seen.Add(result.Message!.MessageId);
        }

        Assert.Equal(200, seen.Count);
    }

    [Fact]
    public void Message_ids_start_after_the_salt_seed()
    {
        var channel = new Gen2Channel(Stream.Null, Keys());
        Assert.Equal(0x08FB, channel.NextMessageId());
        Assert.Equal(0x08FC, channel.NextMessageId());
    }

    [Theory]
    [InlineData("0000", CoapChannelError.EmptyFrame)]
    [InlineData("0011", CoapChannelError.LengthNotBlockMultiple)]
    [InlineData("0810", CoapChannelError.FrameTooLarge)]
    [InlineData("00", CoapChannelError.TruncatedFrame)]
    [InlineData("00205b4ca9c8ffc934a9c5e269ab5914ebd2", CoapChannelError.TruncatedFrame)]
    [InlineData("", CoapChannelError.EndOfStream)]
    public async Task Bad_frames_are_rejected_with_a_reason_and_fault_the_channel(string wire, CoapChannelError expected)
    {
        await using var channel = new Gen2Channel(new MemoryStream(Convert.FromHexString(wire)), Keys());
        CoapReceiveResult result = await channel.ReceiveAsync();
        Assert.False(result.Succeeded);
        Assert.Equal(expected, result.Error);
        Assert.Equal(expected, (await channel.ReceiveAsync()).Error);
    }

    [Fact]
    public async Task Wrong_key_shows_as_bad_padding()
    {
        byte[] otherKeys = Keys().ToArray();
        otherKeys[0] ^= 0x80;
        await using var channel = new Gen2Channel(new MemoryStream(Convert.FromHexString("0020" + HelloCipher)), SessionKeys.FromBytes(otherKeys));
        Assert.Equal(CoapChannelError.BadPadding, (await channel.ReceiveAsync()).Error);
    }

    [Fact]
    public async Task A_frame_that_is_not_coap_is_reported_but_keeps_the_channel()
    {
        using var cipher = new Gen2FrameCipher(Convert.FromHexString(KeyHex), Convert.FromHexString(IvHex));
        string notCoap = Encrypt(cipher, "ff");
        string ping = Encrypt(cipher, PingPlain);
        await using var channel = new Gen2Channel(new MemoryStream(Convert.FromHexString("0010" + notCoap + "0010" + ping)), Keys());
        CoapReceiveResult bad = await channel.ReceiveAsync();
        Assert.Equal(CoapChannelError.MalformedCoap, bad.Error);
        Assert.Equal(CoapDecodeError.TooShort, bad.CoapError);
        Assert.True((await channel.ReceiveAsync()).Succeeded);
    }

    [Fact]
    public async Task Oversized_outgoing_message_throws_before_touching_the_chain()
    {
        await using var channel = new Gen2Channel(new MemoryStream(), Keys());
        CoapMessage huge = ParticleMessages.Event(CoapMessageType.NonConfirmable, 1, "big", new byte[1200]);
        await Assert.ThrowsAsync<ArgumentException>(() => channel.SendAsync(huge).AsTask());
    }

    [Fact]
    public async Task Largest_device_frame_fits()
    {
        var options = new Gen2ChannelOptions();
        var sink = new MemoryStream();
        await using var channel = new Gen2Channel(sink, Keys(), options, leaveOpen: true);
        // 1119 plaintext bytes -> 1120 ciphertext bytes, the largest multiple of 16 within 1134.
        CoapMessage message = new(CoapMessageType.NonConfirmable, CoapCode.Post, 1, payload: new byte[1119 - 5]);
        await channel.SendAsync(message);
        Assert.Equal(2 + 1120, sink.Length);
    }

    private static string Encrypt(Gen2FrameCipher cipher, string plaintextHex)
    {
        byte[] plaintext = Convert.FromHexString(plaintextHex);
        var ciphertext = new byte[Gen2FrameCipher.GetCiphertextLength(plaintext.Length)];
        cipher.Encrypt(plaintext, ciphertext);
        return Convert.ToHexStringLower(ciphertext);
    }

    private static string Decrypt(Gen2FrameCipher cipher, string ciphertextHex)
    {
        byte[] ciphertext = Convert.FromHexString(ciphertextHex);
        var plaintext = new byte[ciphertext.Length];
        Assert.True(cipher.TryDecrypt(ciphertext, plaintext, out int length, out CoapChannelError error), error.ToString());
        return Convert.ToHexStringLower(plaintext.AsSpan(0, length));
    }
}
