using Bulwark.Protocol.Coap;

namespace Bulwark.Protocol.Tests;

public class CoapMessageTests
{
    private static CoapMessage Decode(string hex)
    {
        Assert.True(CoapMessage.TryDecode(Convert.FromHexString(hex), out CoapMessage? message, out CoapDecodeError error), error.ToString());
        return message;
    }

    private static CoapDecodeError DecodeError(string hex)
    {
        Assert.False(CoapMessage.TryDecode(Convert.FromHexString(hex), out _, out CoapDecodeError error));
        return error;
    }

    [Fact]
    public void Live_ping_is_four_bytes_and_round_trips()
    {
        CoapMessage ping = Decode("40001234");
        Assert.Equal(CoapMessageType.Confirmable, ping.Type);
        Assert.Equal(CoapCode.Empty, ping.Code);
        Assert.Equal(0x1234, ping.MessageId);
        Assert.True(ping.Token.IsEmpty);
        Assert.Empty(ping.Options);
        Assert.Equal("40001234", Convert.ToHexString(ping.ToArray()));
    }

    [Fact]
    public void Empty_ack_encodes_as_type_2()
    {
        Assert.Equal("60001234", Convert.ToHexString(new CoapMessage(CoapMessageType.Acknowledgement, CoapCode.Empty, 0x1234).ToArray()));
    }

    [Fact]
    public void Device_time_request_decodes_token_and_uri_path()
    {
        // Messages::time_request: 41 01 id id token b1 't'
        CoapMessage message = Decode("410108FC07B174");
        Assert.Equal(CoapCode.Get, message.Code);
        Assert.Equal(new byte[] { 0x07 }, message.Token.ToArray());
        Assert.Equal("/t", message.GetUriPath());
        Assert.True(message.Payload.IsEmpty);
    }

    [Fact]
    public void Describe_post_header_decodes_query_byte_and_payload()
    {
        // Messages::describe_post_header: 40 02 id id b1 'd' 41 flags ff payload
        CoapMessage message = Decode("40020001B1644101FF7B7D");
        Assert.Equal("/d", message.GetUriPath());
        Assert.True(message.TryGetOption(CoapOptionNumber.UriQuery, out CoapOption query));
        Assert.Equal(new byte[] { 0x01 }, query.Value.ToArray());
        Assert.Equal("{}"u8.ToArray(), message.Payload.ToArray());
    }

    [Fact]
    public void Option_with_13_form_delta_and_length_encodes_exactly()
    {
        // Uri-Path "f", then a 20-byte Uri-Path (length 20 -> nibble 13, ext 7), then No-Response 258 (delta 247 -> 14? no: 13 + 234).
        var message = new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, 1, options:
        [
            CoapOption.FromString(CoapOptionNumber.UriPath, "f"),
            CoapOption.FromString(CoapOptionNumber.UriPath, "abcdefghijklmnopqrst"),
            new CoapOption(CoapOptionNumber.NoResponse, ReadOnlyMemory<byte>.Empty),
        ]);
        byte[] encoded = message.ToArray();
        Assert.Equal("40020001" + "B166" + "0D07" + Convert.ToHexString("abcdefghijklmnopqrst"u8) + "D0EA", Convert.ToHexString(encoded));
        CoapMessage decoded = Decode(Convert.ToHexString(encoded));
        Assert.Equal(CoapOptionNumber.NoResponse, decoded.Options[2].Number);
        Assert.Equal("/f/abcdefghijklmnopqrst", decoded.GetUriPath());
    }

    [Fact]
    public void Option_with_14_form_length_encodes_exactly()
    {
        // A 1024-byte function argument: length nibble 14, extended 1024 - 269 = 0x02F3.
        string argument = new('a', 1024);
        var message = new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, 2, new byte[] { 0x09 },
            [CoapOption.FromString(CoapOptionNumber.UriPath, "f"), CoapOption.FromString(CoapOptionNumber.UriPath, "go"), CoapOption.FromString(CoapOptionNumber.UriQuery, argument)]);
        byte[] encoded = message.ToArray();
        Assert.Equal("4102000209B16602676F" + "4E02F3", Convert.ToHexString(encoded.AsSpan(0, 13)));
        Assert.Equal(13 + 1024, encoded.Length);
        CoapMessage decoded = Decode(Convert.ToHexString(encoded));
        Assert.Equal(argument, decoded.GetUriQueries().Single());
    }

    [Fact]
    public void Large_option_delta_uses_14_form()
    {
        // OTA v3 chunk-index option 2049 right after Uri-Path 11: delta 2038 -> nibble 14, extended 2038 - 269 = 0x06E9.
        var message = new CoapMessage(CoapMessageType.Confirmable, CoapCode.Post, 3, options:
            [CoapOption.FromString(CoapOptionNumber.UriPath, "C"), CoapOption.FromFixedUInt(CoapOptionNumber.OtaChunkIndex, 5, 2)]);
        Assert.Equal("40020003B143E206E90005", Convert.ToHexString(message.ToArray()));
        Assert.Equal(CoapOptionNumber.OtaChunkIndex, Decode("40020003B143E206E90005").Options[1].Number);
    }

    [Fact]
    public void Options_are_sorted_stably_for_encoding()
    {
        var message = new CoapMessage(CoapMessageType.NonConfirmable, CoapCode.Post, 4, options:
        [
            CoapOption.FromUInt(CoapOptionNumber.MaxAge, 30),
            CoapOption.FromString(CoapOptionNumber.UriQuery, "second"),
            CoapOption.FromString(CoapOptionNumber.UriPath, "E"),
            CoapOption.FromString(CoapOptionNumber.UriQuery, "third"),
        ]);
        Assert.Equal([CoapOptionNumber.UriPath, CoapOptionNumber.MaxAge, CoapOptionNumber.UriQuery, CoapOptionNumber.UriQuery], message.Options.Select(o => o.Number));
        Assert.Equal(["second", "third"], message.GetUriQueries());
    }

    [Fact]
    public void Unsigned_option_values_use_the_shortest_form()
    {
        Assert.Empty(CoapOption.FromUInt(CoapOptionNumber.MaxAge, 0).Value.ToArray());
        Assert.Equal(new byte[] { 0x01, 0x2C }, CoapOption.FromUInt(CoapOptionNumber.MaxAge, 300).Value.ToArray());
        Assert.True(CoapOption.FromUInt(CoapOptionNumber.MaxAge, 70000).TryGetUInt(out uint value));
        Assert.Equal(70000u, value);
    }

    [Theory]
    [InlineData("", CoapDecodeError.TooShort)]
    [InlineData("400012", CoapDecodeError.TooShort)]
    [InlineData("80001234", CoapDecodeError.UnsupportedVersion)]
    [InlineData("49011234", CoapDecodeError.InvalidTokenLength)]
    [InlineData("4201123401", CoapDecodeError.TruncatedToken)]
    [InlineData("40011234F1", CoapDecodeError.ReservedOptionNibble)]
    [InlineData("400112341F", CoapDecodeError.ReservedOptionNibble)]
    [InlineData("40011234B3616263" + "D1", CoapDecodeError.TruncatedOption)]
    [InlineData("40011234B2", CoapDecodeError.TruncatedOption)]
    [InlineData("40011234E0", CoapDecodeError.TruncatedOption)]
    [InlineData("40011234E0FFFF" + "E0FFFF", CoapDecodeError.OptionNumberOverflow)]
    [InlineData("40011234B174FF", CoapDecodeError.EmptyPayloadAfterMarker)]
    [InlineData("4100123401", CoapDecodeError.EmptyMessageNotEmpty)]
    [InlineData("40001234FF00", CoapDecodeError.EmptyMessageNotEmpty)]
    public void Malformed_messages_report_a_reason_without_throwing(string hex, CoapDecodeError expected)
    {
        Assert.Equal(expected, DecodeError(hex));
    }

    [Fact]
    public void Too_many_options_are_refused()
    {
        string hex = "40011234" + string.Concat(Enumerable.Repeat("00", CoapMessage.MaxOptionCount + 1));
        Assert.Equal(CoapDecodeError.TooManyOptions, DecodeError(hex));
        string justEnough = "40011234" + string.Concat(Enumerable.Repeat("00", CoapMessage.MaxOptionCount));
        Assert.Equal(CoapMessage.MaxOptionCount, Decode(justEnough).Options.Count);
    }

    [Fact]
    public void Decoded_message_slices_the_input_without_copying()
    {
        byte[] input = Convert.FromHexString("5102000107B161FF68656C6C6F");
        Assert.True(CoapMessage.TryDecode(input, out CoapMessage? message, out _));
        input[^1] = (byte)'!';
        Assert.Equal("hell!"u8.ToArray(), message.Payload.ToArray());
    }

    [Fact]
    public void Code_formats_as_class_dot_detail()
    {
        Assert.Equal("2.05", CoapCode.Content.ToString());
        Assert.Equal("4.04", CoapCode.NotFound.ToString());
        Assert.Equal(0x45, CoapCode.Content.Value);
        Assert.True(CoapCode.Changed.IsSuccess);
        Assert.True(CoapCode.Post.IsRequest);
    }

    [Fact]
    public void Empty_code_with_token_is_refused_at_construction()
    {
        Assert.Throws<ArgumentException>(() => new CoapMessage(CoapMessageType.Confirmable, CoapCode.Empty, 1, new byte[] { 1 }));
    }
}
