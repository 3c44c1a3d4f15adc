using System.Text;
using Bulwark.Protocol.Coap;
using Bulwark.Protocol.Messages;

namespace Bulwark.Protocol.Tests;

/// <summary>OTA v3 frames written out by hand from RFC 7252 option encoding and the device-os option numbers.</summary>
public class OtaV3MessagesTests
{
    // CON POST, ID 0x1234, token 07; Uri-Path "S"; File-Size 2057 (delta 2046 = 14-nibble + 0x06F1) = 70000 in 3 bytes;
    // Chunk-Size 2065 (delta 8) = 512.
    private const string StartFrame = "41021234" + "07" + "B153" + "E306F1" + "011170" + "820200";

    // NON POST, ID 1, no token; Uri-Path "C"; Chunk-Index 2049 (delta 2038 = 0x06E9 after 269) = 5; payload "abc".
    private const string ChunkFrame = "50020001" + "B143" + "E106E9" + "05" + "FF" + "616263";

    // CON POST, ID 2, token 09; Uri-Path "F"; empty Cancel-Update 2073 (delta 2062 = 0x0701 after 269).
    private const string CancelFrame = "41020002" + "09" + "B146" + "E00701";

    // NON POST, ID 3; Uri-Path "A"; Chunk-Index 0 (empty value); bitmap word 0x0000000A little-endian: chunks 2 and 4.
    private const string AckFrame = "50020003" + "B141" + "E006E9" + "FF" + "0A000000";

    // CON 2.01, ID 5, token 07; Window-Size 2053 (0x06F8 after 269) = 256; File-Size 2057 (delta 4) = 0, empty.
    private const string StartResponseFrame = "41410005" + "07" + "E206F8" + "0100" + "40";

    [Fact]
    public void Update_start_is_built_byte_for_byte()
    {
        CoapMessage message = new UpdateStartRequest(70000, 512).ToMessage(0x1234, new byte[] { 7 });
        Assert.Equal(StartFrame, Convert.ToHexString(message.ToArray()));
        Assert.Equal(ParticleMessageKind.UpdateStartV3, ParticleMessageClassifier.Classify(message));
    }

    [Fact]
    public void Update_start_with_hash_and_discard_puts_the_options_in_number_order()
    {
        byte[] hash = Enumerable.Range(0, 32).Select(i => (byte)i).ToArray();
        CoapMessage message = new UpdateStartRequest(70000, 512, hash, DiscardData: true).ToMessage(0x1234, new byte[] { 7 });
        // After File-Size: SHA-256 2061 (delta 4, 13-nibble length 32 = 13 + 0x13), Chunk-Size (delta 4), Discard-Data (delta 4, empty).
        string expected = "41021234" + "07" + "B153" + "E306F1" + "011170" + "4D13" + Convert.ToHexString(hash) + "420200" + "40";
        Assert.Equal(expected, Convert.ToHexString(message.ToArray()));
        Assert.True(UpdateStartRequest.TryParse(Decode(expected), 1024, out UpdateStartRequest? parsed, out string? problem), problem);
        Assert.Equal(70000u, parsed.FileSize);
        Assert.Equal(512u, parsed.ChunkSize);
        Assert.Equal(hash, parsed.FileSha256.ToArray());
        Assert.True(parsed.DiscardData);
    }

    [Fact]
    public void Update_start_parses_as_the_device_reads_it()
    {
        Assert.True(UpdateStartRequest.TryParse(Decode(StartFrame), 1024, out UpdateStartRequest? start, out _));
        Assert.Equal(new UpdateStartRequest(70000, 512), start with { FileSha256 = default });
        Assert.True(start.FileSha256.IsEmpty);
        Assert.False(start.DiscardData);
    }

    [Theory]
    // NON instead of CON.
    [InlineData("51021234" + "07" + "B153" + "E306F1" + "011170" + "820200", "Invalid message type")]
    // No token.
    [InlineData("40021234" + "B153" + "E306F1" + "011170" + "820200", "Invalid token size")]
    // File-Size 0 (empty value).
    [InlineData("41021234" + "07" + "B153" + "E006F1" + "820200", "Invalid file size: 0")]
    // No Chunk-Size.
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170", "Invalid message options")]
    // Chunk-Size 510: under 512.
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170" + "8201FE", "Invalid chunk size: 510")]
    // Chunk-Size 514: not a multiple of 4.
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170" + "820202", "Invalid chunk size: 514")]
    // Chunk-Size 2048: over the device's maximum (1024 here).
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170" + "820800", "Invalid chunk size: 2048")]
    // SHA-256 of 3 bytes.
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170" + "43010203" + "420200", "Invalid option size")]
    // Discard-Data with a value.
    [InlineData("41021234" + "07" + "B153" + "E306F1" + "011170" + "820200" + "4101", "OtaDiscardData must be empty")]
    public void Update_start_is_refused_where_the_device_refuses_it(string frame, string problem)
    {
        Assert.False(UpdateStartRequest.TryParse(Decode(frame), 1024, out _, out string? actual));
        Assert.Equal(problem, actual);
    }

    [Fact]
    public void Update_start_response_round_trips()
    {
        CoapMessage message = new UpdateStartResponse(256, 0).ToMessage(CoapMessageType.Confirmable, 5, new byte[] { 7 });
        Assert.Equal(StartResponseFrame, Convert.ToHexString(message.ToArray()));
        Assert.True(UpdateStartResponse.TryParse(Decode(StartResponseFrame), out UpdateStartResponse? response));
        Assert.Equal(new UpdateStartResponse(256, 0), response);
        // A resumed update: offset 1536 = 0x0600.
        Assert.True(UpdateStartResponse.TryParse(Decode("41410005" + "07" + "E206F8" + "0100" + "420600"), out response));
        Assert.Equal(1536u, response.FileOffset);
    }

    [Fact]
    public void An_error_answer_is_not_a_start_response_and_carries_a_diagnostic()
    {
        byte[] json = Encoding.UTF8.GetBytes("{\"code\":-240,\"message\":\"Invalid chunk size: 3\"}");
        var error = new CoapMessage(CoapMessageType.Acknowledgement, CoapCode.InternalServerError, 5, new byte[] { 7 }, payload: json);
        Assert.False(UpdateStartResponse.TryParse(error, out _));
        Assert.True(OtaV3Diagnostic.TryParse(error.Payload.Span, out OtaV3Diagnostic? diagnostic));
        Assert.Equal(new OtaV3Diagnostic(-240, "Invalid chunk size: 3"), diagnostic);
        Assert.False(OtaV3Diagnostic.TryParse("{\"r\":0}"u8, out _));
        Assert.False(OtaV3Diagnostic.TryParse("{\"code\":"u8, out _));
    }

    [Theory]
    [InlineData(-240, 5, 0)]
    [InlineData(-210, 5, 3)]
    [InlineData(-190, 4, 0)]
    [InlineData(-130, 4, 3)]
    [InlineData(-1330, 5, 0)]
    public void System_errors_map_to_the_codes_device_os_answers_with(int error, int codeClass, int detail)
    {
        Assert.Equal(CoapCode.From(codeClass, detail), OtaV3Diagnostic.ToCoapCode(error));
    }

    [Fact]
    public void Update_chunk_is_built_and_parsed()
    {
        CoapMessage message = new UpdateChunkRequest(5, "abc"u8.ToArray()).ToMessage(1);
        Assert.Equal(ChunkFrame, Convert.ToHexString(message.ToArray()));
        Assert.Equal(ParticleMessageKind.UpdateChunkV3, ParticleMessageClassifier.Classify(message));
        Assert.True(UpdateChunkRequest.TryParse(Decode(ChunkFrame), out UpdateChunkRequest? chunk, out _));
        Assert.Equal(5u, chunk.Index);
        Assert.Equal("abc"u8.ToArray(), chunk.Data.ToArray());
        // Index 300 takes two bytes.
        Assert.Equal("50020001" + "B143" + "E206E9" + "012C" + "FF" + "61", Convert.ToHexString(new UpdateChunkRequest(300, "a"u8.ToArray()).ToMessage(1).ToArray()));
    }

    [Theory]
    // CON instead of NON.
    [InlineData("40020001" + "B143" + "E106E9" + "05" + "FF" + "616263", "Invalid message type")]
    // A token.
    [InlineData("51020001" + "01" + "B143" + "E106E9" + "05" + "FF" + "616263", "Invalid token size")]
    // No payload.
    [InlineData("50020001" + "B143" + "E106E9" + "05", "Invalid payload size")]
    // No Chunk-Index.
    [InlineData("50020001" + "B143" + "FF" + "616263", "Invalid message options")]
    public void Update_chunk_is_refused_where_the_device_refuses_it(string frame, string problem)
    {
        Assert.False(UpdateChunkRequest.TryParse(Decode(frame), out _, out string? actual));
        Assert.Equal(problem, actual);
    }

    [Fact]
    public void Update_finish_plain_and_cancelling()
    {
        Assert.Equal("41020002" + "09" + "B146", Convert.ToHexString(new UpdateFinishRequest().ToMessage(2, new byte[] { 9 }).ToArray()));
        CoapMessage cancel = new UpdateFinishRequest(CancelUpdate: true).ToMessage(2, new byte[] { 9 });
        Assert.Equal(CancelFrame, Convert.ToHexString(cancel.ToArray()));
        Assert.Equal(ParticleMessageKind.UpdateFinishV3, ParticleMessageClassifier.Classify(cancel));
        Assert.True(UpdateFinishRequest.TryParse(Decode(CancelFrame), out UpdateFinishRequest? finish, out _));
        Assert.Equal(new UpdateFinishRequest(CancelUpdate: true), finish);
        // Cancel-Update with a value, as the device test "non-empty Cancel-Update" sends it.
        Assert.False(UpdateFinishRequest.TryParse(Decode("41020002" + "09" + "B146" + "E1070101"), out _, out string? problem));
        Assert.Equal("OtaCancelUpdate must be empty", problem);
        Assert.False(UpdateFinishRequest.TryParse(Decode("40020002" + "B146"), out _, out problem));
        Assert.Equal("Invalid token size", problem);
    }

    [Fact]
    public void Update_ack_reads_the_cumulative_index_and_the_selective_bitmap()
    {
        CoapMessage message = Decode(AckFrame);
        Assert.Equal(ParticleMessageKind.UpdateAckV3, ParticleMessageClassifier.Classify(message));
        Assert.True(UpdateAck.TryParse(message, out UpdateAck? ack));
        Assert.Equal(0u, ack.CumulativeIndex);
        Assert.Equal([2u, 4u], ack.SelectivelyAcknowledged);
        Assert.Equal(AckFrame, Convert.ToHexString(UpdateAck.Create(0, [2, 4]).ToMessage(3).ToArray()));
    }

    [Fact]
    public void Update_ack_bitmap_spans_words_little_endian()
    {
        // Past cumulative 10, chunk 43 is bit 32: the first bit of the second word.
        UpdateAck ack = UpdateAck.Create(10, [12, 43]);
        Assert.Equal("02000000" + "01000000", Convert.ToHexString(ack.Bitmap.Span));
        Assert.Equal([12u, 43u], ack.SelectivelyAcknowledged);
        // No gap: no payload at all, as the device sends it.
        Assert.Equal("50020003" + "B141" + "E106E9" + "04", Convert.ToHexString(UpdateAck.Create(4, []).ToMessage(3).ToArray()));
        // A bitmap that is not whole words is refused.
        Assert.False(UpdateAck.TryParse(Decode("50020003" + "B141" + "E006E9" + "FF" + "0A00"), out _));
    }

    private static CoapMessage Decode(string hex)
    {
        Assert.True(CoapMessage.TryDecode(Convert.FromHexString(hex), out CoapMessage? message, out CoapDecodeError error), error.ToString());
        return message;
    }
}
