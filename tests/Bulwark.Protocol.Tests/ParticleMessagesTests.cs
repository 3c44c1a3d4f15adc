using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Tests;

public class ParticleMessagesTests
{
    // A TCP Hello as the gcc Device OS 6.2 build sends it: NON POST /h, ID = salt fa08 (LE) + 1, product 3 v7,
    // flags 0x36, platform 3 (gcc), no device ID on TCP, system 6200 = 0x1838, 1152, 10485760, 512.
    private const string TcpHelloFrame = "500208FB" + "B168" + "FF" + "0003" + "0007" + "0036" + "0003" + "00" + "00" + "1838" + "0480" + "00A00000" + "0200";

    [Fact]
    public void Tcp_hello_vector_parses_every_field()
    {
        Assert.True(CoapMessage.TryDecode(Convert.FromHexString(TcpHelloFrame), out CoapMessage? message, out _));
        Assert.Equal(CoapMessageType.NonConfirmable, message.Type);
        Assert.Equal(0x08FB, message.MessageId);
        Assert.Equal(ParticleMessageKind.Hello, ParticleMessageClassifier.Classify(message));
        Assert.True(HelloPayload.TryParse(message.Payload.Span, out HelloPayload? hello, out HelloParseError error), error.ToString());
        Assert.Equal(3, hello.ProductId);
        Assert.Equal(7, hello.ProductFirmwareVersion);
        Assert.Equal(HelloFlags.DiagnosticsSupport | HelloFlags.ImmediateUpdatesSupport | HelloFlags.GoodbyeSupport | HelloFlags.DeviceInitiatedDescribe, hello.Flags);
        Assert.Equal(0x36, (int)hello.Flags);
        Assert.Equal(3, hello.PlatformId);
        Assert.Null(hello.DeviceId);
        Assert.Equal((ushort)6200, hello.SystemVersion);
        Assert.Equal((ushort)1152, hello.MaxMessageSize);
        Assert.Equal(10485760u, hello.MaxBinarySize);
        Assert.Equal((ushort)512, hello.OtaChunkSize);
    }

    [Fact]
    public void Tcp_hello_vector_is_rebuilt_byte_for_byte()
    {
        var hello = new HelloPayload(3, 7, (HelloFlags)0x36, 3, null, 6200, 1152, 10485760, 512);
        CoapMessage message = ParticleMessages.DeviceHello(CoapMessageType.NonConfirmable, 0x08FB, hello);
        Assert.Equal(TcpHelloFrame, Convert.ToHexString(message.ToArray()));
    }

    [Fact]
    public void Udp_hello_carries_the_device_id()
    {
        DeviceId id = DeviceId.Parse("0123456789abcdef01234567");
        var hello = new HelloPayload(0x1234, 2, HelloFlags.OtaProtocolV3, 32, id, 6200, 1152, 10485760, 512);
        byte[] payload = hello.ToArray();
        Assert.Equal("1234" + "0002" + "0080" + "0020" + "00" + "0C" + "0123456789ABCDEF01234567" + "1838" + "0480" + "00A00000" + "0200", Convert.ToHexString(payload));
        Assert.True(HelloPayload.TryParse(payload, out HelloPayload? parsed, out _));
        Assert.Equal(hello, parsed);
    }

    [Fact]
    public void Short_hellos_keep_the_fields_present()
    {
        Assert.True(HelloPayload.TryParse(Convert.FromHexString("00030007003600030000"), out HelloPayload? hello, out _));
        Assert.Equal(3, hello.PlatformId);
        Assert.Null(hello.SystemVersion);
        Assert.Null(hello.OtaChunkSize);
    }

    [Theory]
    [InlineData("000300070036000300", HelloParseError.TooShort)]
    [InlineData("00030007003600030005", HelloParseError.InvalidDeviceIdLength)]
    [InlineData("0003000700360003000C0123", HelloParseError.TruncatedDeviceId)]
    public void Bad_hellos_report_why(string hex, HelloParseError expected)
    {
        Assert.False(HelloPayload.TryParse(Convert.FromHexString(hex), out _, out HelloParseError error));
        Assert.Equal(expected, error);
    }

    [Fact]
    public void Server_hello_is_non_post_h_with_no_payload()
    {
        Assert.Equal("50020001B168", Convert.ToHexString(ParticleMessages.ServerHello(1).ToArray()));
    }

    [Fact]
    public void Time_response_is_ack_205_with_the_request_token_and_seconds()
    {
        Assert.True(CoapMessage.TryDecode(Convert.FromHexString("410108FC07B174"), out CoapMessage? request, out _));
        Assert.Equal(ParticleMessageKind.TimeRequest, ParticleMessageClassifier.Classify(request));
        CoapMessage response = ParticleMessages.TimeResponse(request, 0x65A1B2C3);
        Assert.Equal("614508FC07FF65A1B2C3", Convert.ToHexString(response.ToArray()));
        Assert.True(ParticleMessages.TryReadTimeResponse(response, out uint seconds));
        Assert.Equal(0x65A1B2C3u, seconds);
        Assert.Equal("410108FC07B174", Convert.ToHexString(ParticleMessages.TimeRequest(0x08FC, 7).ToArray()));
    }

    [Fact]
    public void Function_call_puts_uri_path_first_and_always_has_a_query()
    {
        CoapMessage call = ParticleMessages.FunctionCall(0x0102, 0x2A, "led", "");
        Assert.Equal("410201022AB166036C656440", Convert.ToHexString(call.ToArray()));
        Assert.Equal(ParticleMessageKind.FunctionCall, ParticleMessageClassifier.Classify(call));
        Assert.True(FunctionCallRequest.TryParse(ParticleMessages.FunctionCall(1, 1, "led", "on"), out FunctionCallRequest? parsed));
        Assert.Equal(new FunctionCallRequest("led", "on"), parsed);
    }

    [Fact]
    public void Function_return_is_a_separate_204_with_a_big_endian_int()
    {
        // Live: argument "hello" -> 00000005.
        CoapMessage result = ParticleMessages.FunctionReturn(CoapMessageType.NonConfirmable, 9, new byte[] { 0x2A }, 5);
        Assert.Equal("514400092AFF00000005", Convert.ToHexString(result.ToArray()));
        Assert.Equal(ParticleMessageKind.Response, ParticleMessageClassifier.Classify(result));
        Assert.True(ParticleMessages.TryReadFunctionReturn(result, out int value));
        Assert.Equal(5, value);
    }

    [Fact]
    public void Variable_request_is_get_v_name()
    {
        CoapMessage request = ParticleMessages.VariableRequest(3, 0x11, "temp");
        Assert.Equal("4101000311B17604" + "74656D70", Convert.ToHexString(request.ToArray()));
        Assert.True(VariableRequest.TryParse(request, out VariableRequest? parsed));
        Assert.Equal("temp", parsed.Name);
    }

    [Fact]
    public void Describe_request_carries_exactly_one_raw_flag_byte()
    {
        CoapMessage request = ParticleMessages.DescribeRequest(5, 0x01, DescribeFlags.Application);
        Assert.Equal("4101000501B1644102", Convert.ToHexString(request.ToArray()));
        Assert.Equal(ParticleMessageKind.DescribeRequest, ParticleMessageClassifier.Classify(request));
        Assert.Equal("40020001B1644101FF7B7D", Convert.ToHexString(ParticleMessages.Describe(1, DescribeFlags.System, "{}"u8.ToArray()).ToArray()));
    }

    [Fact]
    public void Device_event_matches_device_os_bytes_and_parses()
    {
        // Messages::event: 50 02 id id b1 'E' <name option> [33 ttl(3)] ff data. Name stays in one Uri-Path value.
        CoapMessage evt = ParticleMessages.Event(CoapMessageType.NonConfirmable, 0x0010, "particle/device/updates/enabled", "true"u8.ToArray());
        Assert.Equal("50020010B1450D12" + Convert.ToHexString("particle/device/updates/enabled"u8) + "FF74727565", Convert.ToHexString(evt.ToArray()));
        Assert.Equal(ParticleMessageKind.Event, ParticleMessageClassifier.Classify(evt));
        Assert.True(EventMessage.TryParse(evt, out EventMessage? parsed));
        Assert.Equal("particle/device/updates/enabled", parsed.Name);
        Assert.Equal("true", parsed.GetDataString());
        Assert.Equal(60, parsed.TtlSeconds);
        Assert.False(parsed.IsLegacyPublic);
    }

    [Fact]
    public void Event_ttl_and_content_format_round_trip()
    {
        CoapMessage evt = ParticleMessages.Event(CoapMessageType.Confirmable, 1, "t", new byte[] { 0xA0 }, ttlSeconds: 3600, contentFormat: 60);
        Assert.True(EventMessage.TryParse(evt, out EventMessage? parsed));
        Assert.Equal(3600, parsed.TtlSeconds);
        Assert.Equal((ushort)60, parsed.ContentFormat);
    }

    [Fact]
    public void Subscription_parses_prefix_and_flags()
    {
        CoapMessage subscribe = ParticleMessages.Subscribe(CoapMessageType.NonConfirmable, 7, "particle", "c");
        Assert.Equal("50010007B165087061727469636C654163", Convert.ToHexString(subscribe.ToArray()));
        Assert.Equal(ParticleMessageKind.Subscribe, ParticleMessageClassifier.Classify(subscribe));
        Assert.True(SubscribeRequest.TryParse(subscribe, out SubscribeRequest? parsed));
        Assert.Equal("particle", parsed.Prefix);
        Assert.Equal(["c"], parsed.Queries);
    }

    [Fact]
    public void Signal_state_sits_at_byte_8()
    {
        byte[] on = ParticleMessages.Signal(1, 0x33, start: true).ToArray();
        Assert.Equal("4103000133B173FF01", Convert.ToHexString(on));
        Assert.Equal(1, on[8]);
        Assert.Equal(0, ParticleMessages.Signal(1, 0x33, start: false).ToArray()[8]);
    }

    [Fact]
    public void Key_change_parameter_sits_at_byte_7_with_no_token()
    {
        byte[] keyChange = ParticleMessages.KeyChange(2, 1).ToArray();
        Assert.Equal("40030002B16B4101", Convert.ToHexString(keyChange));
        Assert.Equal(1, keyChange[7]);
    }

    [Fact]
    public void Goodbye_matches_device_os_layout()
    {
        // NON: b1 'x' d0 ea (No-Response) ff flags varints. Cloud reason 1, sleep 300 s (varint ac 02).
        var goodbye = new GoodbyeMessage(1, null, 300, null);
        CoapMessage message = ParticleMessages.Goodbye(CoapMessageType.NonConfirmable, 4, goodbye);
        Assert.Equal("50020004B178D0EAFF" + "05" + "01" + "AC02", Convert.ToHexString(message.ToArray()));
        Assert.Equal(ParticleMessageKind.Goodbye, ParticleMessageClassifier.Classify(message));
        Assert.True(GoodbyeMessage.TryParse(message.Payload.Span, out GoodbyeMessage? parsed));
        Assert.Equal(goodbye, parsed);
        Assert.False(GoodbyeMessage.TryParse(Convert.FromHexString("0F01"), out _));
    }

    [Fact]
    public void Update_begin_is_twenty_bytes_with_payload_marker_at_byte_7()
    {
        var parameters = new UpdateBeginParameters(0, 512, 0x00012345, 0, 0x080A0000);
        byte[] frame = ParticleMessages.UpdateBegin(0x0020, 0x05, parameters).ToArray();
        Assert.Equal("4102002005B175FF" + "00" + "0200" + "00012345" + "00" + "080A0000", Convert.ToHexString(frame));
        Assert.Equal(20, frame.Length);
        Assert.Equal(0xFF, frame[7]);
        Assert.True(UpdateBeginParameters.TryParse(frame.AsSpan(8), out UpdateBeginParameters? parsed));
        Assert.Equal(parameters, parsed);
    }

    [Fact]
    public void Chunk_carries_a_four_byte_crc_then_optional_index()
    {
        byte[] data = "123456789"u8.ToArray();
        // zlib CRC-32 of "123456789" is CBF43926 (the standard check value).
        CoapMessage chunk = ParticleMessages.Chunk(0x30, 0x05, data);
        Assert.Equal("4102003005B163" + "44CBF43926" + "FF" + Convert.ToHexString(data), Convert.ToHexString(chunk.ToArray()));
        Assert.True(ChunkMessage.TryParse(chunk, out ChunkMessage? parsed));
        Assert.Equal(0xCBF43926u, parsed.Crc);
        Assert.Null(parsed.ChunkIndex);
        Assert.True(parsed.IsCrcValid);

        CoapMessage fast = ParticleMessages.Chunk(0x31, 0x05, data, fastOtaIndex: 7);
        Assert.Equal("4102003105B163" + "44CBF43926" + "020007" + "FF", Convert.ToHexString(fast.ToArray().AsSpan(0, 16)));
        Assert.True(ChunkMessage.TryParse(fast, out ChunkMessage? parsedFast));
        Assert.Equal((ushort)7, parsedFast.ChunkIndex);
    }

    [Fact]
    public void Crc_keeps_leading_zero_bytes()
    {
        // Find data whose CRC starts with a zero byte; the option must still be 4 bytes long.
        byte[] data = Enumerable.Range(0, 100_000).Select(i => BitConverter.GetBytes(i)).First(d => Crc32.Compute(d) >> 24 == 0);
        CoapMessage chunk = ParticleMessages.Chunk(1, 1, data);
        Assert.Equal(4, chunk.Options[1].Value.Length);
    }

    [Fact]
    public void Update_done_and_chunk_missed_classify()
    {
        Assert.Equal("4103004005B175", Convert.ToHexString(ParticleMessages.UpdateDone(0x40, 0x05).ToArray()));
        Assert.Equal(ParticleMessageKind.UpdateDone, ParticleMessageClassifier.Classify(ParticleMessages.UpdateDone(1, 1)));
        CoapMessage missed = ParticleMessages.ChunkMissed(CoapMessageType.NonConfirmable, 9, [3, 0x0102]);
        Assert.Equal("50010009B163FF00030102", Convert.ToHexString(missed.ToArray()));
        Assert.Equal(ParticleMessageKind.ChunkMissed, ParticleMessageClassifier.Classify(missed));
        Assert.True(ParticleMessages.TryReadChunkMissed(missed, out ushort[] indices));
        Assert.Equal(new ushort[] { 3, 0x0102 }, indices);
    }

    [Theory]
    [InlineData("40001234", ParticleMessageKind.Ping)]
    [InlineData("60001234", ParticleMessageKind.EmptyAck)]
    [InlineData("70001234", ParticleMessageKind.Reset)]
    [InlineData("40030001B16B", ParticleMessageKind.KeyChange)]
    [InlineData("40020001B14D", ParticleMessageKind.ServerMoved)]
    [InlineData("40020001B153", ParticleMessageKind.UpdateStartV3)]
    [InlineData("40020001B143", ParticleMessageKind.UpdateChunkV3)]
    [InlineData("40020001B146", ParticleMessageKind.UpdateFinishV3)]
    [InlineData("40020001B17A", ParticleMessageKind.Unknown)]
    [InlineData("40040001B166", ParticleMessageKind.Unknown)]
    public void Classifier_follows_code_and_first_path_character(string hex, ParticleMessageKind expected)
    {
        Assert.True(CoapMessage.TryDecode(Convert.FromHexString(hex), out CoapMessage? message, out _));
        Assert.Equal(expected, ParticleMessageClassifier.Classify(message));
    }
}
