using System.Text;

namespace Bulwark.Server.Features.ProductDevices;

/// <summary>One identifier to import: a device ID (24 hex, lower-cased) or a serial number, with its line.</summary>
public sealed record DeviceIdentifier(int Line, string Value, bool IsDeviceId);

/// <summary>Why one line of an import file was refused.</summary>
public sealed record LineProblem(int Line, string Value, string Problem);

/// <summary>The parsed file: its identifiers, or the problems that refuse it as a whole.</summary>
public sealed record DeviceIdentifierList(IReadOnlyList<DeviceIdentifier> Identifiers, IReadOnlyList<LineProblem> Problems, int ProblemCount)
{
    public bool IsValid => ProblemCount == 0;
}

/// <summary>Reads a device import file: one device ID or serial number a line, blank lines ignored. A file with any
/// malformed line (binary junk, neither an ID nor a serial number, a duplicate) or with no identifiers is refused whole,
/// with a report naming each bad line, so an import is never half done. Pure: bytes in, result out.</summary>
public static class DeviceIdentifierFile
{
    public const int MaxLines = 500_000;
    public const int MaxReportedProblems = 1000;
    private const int MaxLineLength = 64;

    public static DeviceIdentifierList Parse(ReadOnlySpan<byte> content)
    {
        var identifiers = new List<DeviceIdentifier>();
        var problems = new List<LineProblem>();
        var problemCount = 0;
        var seen = new Dictionary<string, int>(StringComparer.Ordinal);
        var lineNumber = 0;
        void Refuse(int line, string value, string problem)
        {
            problemCount++;
            if (problems.Count < MaxReportedProblems)
            {
                problems.Add(new LineProblem(line, value, problem));
            }
        }
        // A UTF-8 byte order mark at the start is an editor's, not a character of the first ID.
        if (content.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            content = content[3..];
        }
        while (!content.IsEmpty)
        {
            lineNumber++;
            var end = content.IndexOf((byte)'\n');
            var raw = end < 0 ? content : content[..end];
            content = end < 0 ? [] : content[(end + 1)..];
            if (lineNumber > MaxLines)
            {
                Refuse(lineNumber, "", $"the file has more than {MaxLines} lines");
                break;
            }
            raw = raw.Trim((ReadOnlySpan<byte>)[(byte)' ', (byte)'\t', (byte)'\r']);
            if (raw.IsEmpty)
            {
                continue;
            }
            if (!IsPrintableAscii(raw))
            {
                Refuse(lineNumber, Printable(raw), "not text: binary data or characters outside ASCII");
                continue;
            }
            if (raw.Length > MaxLineLength)
            {
                Refuse(lineNumber, Printable(raw), $"longer than {MaxLineLength} characters");
                continue;
            }
            var text = Encoding.ASCII.GetString(raw);
            bool isDeviceId;
            if (text.Length == 24 && IsHex(text))
            {
                text = text.ToLowerInvariant();
                isDeviceId = true;
            }
            else if (text.Length == 24)
            {
                Refuse(lineNumber, text, "not a device ID: 24 characters but not all hexadecimal");
                continue;
            }
            else if (IsSerialNumber(text))
            {
                isDeviceId = false;
            }
            else
            {
                Refuse(lineNumber, text, "neither a device ID (24 hexadecimal characters) nor a serial number (letters, digits and '-')");
                continue;
            }
            var key = isDeviceId ? text : "sn:" + text.ToUpperInvariant();
            if (seen.TryGetValue(key, out var first))
            {
                Refuse(lineNumber, text, $"duplicate of line {first}");
                continue;
            }
            seen[key] = lineNumber;
            identifiers.Add(new DeviceIdentifier(lineNumber, text, isDeviceId));
        }
        if (identifiers.Count == 0 && problemCount == 0)
        {
            Refuse(0, "", "the file is empty: put one device ID or serial number on each line");
        }
        return new DeviceIdentifierList(identifiers, problems, problemCount);
    }

    /// <summary>A device ID or serial number sent in a JSON or form field (no file): trimmed, or null when malformed.</summary>
    public static DeviceIdentifier? ParseOne(string? value)
    {
        var text = value?.Trim() ?? "";
        if (text.Length == 24 && IsHex(text))
        {
            return new DeviceIdentifier(0, text.ToLowerInvariant(), true);
        }
        return text.Length != 24 && IsSerialNumber(text) ? new DeviceIdentifier(0, text, false) : null;
    }

    private static bool IsSerialNumber(string text) =>
        text.Length is >= 4 and <= 40 && char.IsAsciiLetterOrDigit(text[0]) && text.All(c => char.IsAsciiLetterOrDigit(c) || c == '-');

    private static bool IsHex(string text) => text.All(char.IsAsciiHexDigit);

    private static bool IsPrintableAscii(ReadOnlySpan<byte> bytes)
    {
        foreach (var b in bytes)
        {
            if (b is < 0x20 or > 0x7E && b != (byte)'\t')
            {
                return false;
            }
        }
        return true;
    }

    // Shown back in the report: never echo raw binary, only a safe, short rendering.
    private static string Printable(ReadOnlySpan<byte> bytes)
    {
        var builder = new StringBuilder();
        foreach (var b in bytes[..Math.Min(bytes.Length, 32)])
        {
            builder.Append(b is >= 0x20 and <= 0x7E ? (char)b : '?');
        }
        if (bytes.Length > 32)
        {
            builder.Append('…');
        }
        return builder.ToString();
    }
}
