using System.Text.RegularExpressions;
using Bulwark.Server.Data;
using Bulwark.Server.Http;

namespace Bulwark.Server.Features.Devices;

/// <summary>The rules for a device's name and notes, the same whether the owner or the product team edits them.</summary>
internal static partial class DeviceNames
{
    public const int MaxNameLength = 63;

    public const int MaxNotesLength = 1000;

    /// <summary>Trims the name and checks it; <paramref name="problem"/> is the 400 to answer when it is not valid.</summary>
    public static bool TryNormalize(string? raw, out string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out IResult? problem)
    {
        name = raw?.Trim() ?? "";
        problem = name.Length is 0 or > MaxNameLength || !NamePattern().IsMatch(name)
            ? ApiProblem.BadRequest($"The name must be 1 to {MaxNameLength} letters, digits, '_' or '-'")
            : null;
        return problem is null;
    }

    /// <summary>Sets the device's notes when the request sends <c>notes</c>, noting the change in the response and the
    /// audit list. Null when applied or not sent; the 400 to answer when they are too long.</summary>
    public static IResult? ApplyNotes(RequestFields fields, Device device, Dictionary<string, object?> response, List<string> changes)
    {
        if (!fields.Has("notes"))
        {
            return null;
        }
        var notes = fields.String("notes") ?? "";
        if (notes.Length > MaxNotesLength)
        {
            return ApiProblem.BadRequest($"Notes are limited to {MaxNotesLength} characters");
        }
        device.Notes = notes;
        response["notes"] = notes;
        changes.Add("notes");
        return null;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]+$")]
    private static partial Regex NamePattern();
}
