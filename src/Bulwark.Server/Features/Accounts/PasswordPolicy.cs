using Bulwark.Server.Hosting;

namespace Bulwark.Server.Features.Accounts;

/// <summary>Why a password was refused, or null when it is acceptable.</summary>
public sealed record PasswordRejection(string Reason);

/// <summary>NIST SP 800-63B memorized-secret rules: a minimum length (8, configurable upward), at least 64
/// characters allowed, any printable characters including spaces and Unicode, no composition rules, and
/// a refusal of passwords that are common, breached, or contain the username. A pure function of its inputs.</summary>
public sealed class PasswordPolicy(PasswordOptions options, CommonPasswordList commonPasswords)
{
    public PasswordRejection? Check(string? password, string username)
    {
        if (string.IsNullOrEmpty(password))
        {
            return new("A password is required");
        }
        // Length counts Unicode code points (SP 800-63B 5.1.1.2), not UTF-16 units.
        var length = password.EnumerateRunes().Count();
        if (length < options.MinimumLength)
        {
            return new($"The password must be at least {options.MinimumLength} characters long");
        }
        if (length > options.MaximumLength)
        {
            return new($"The password must be at most {options.MaximumLength} characters long");
        }
        if (password.Any(c => char.IsControl(c)))
        {
            return new("The password may not contain control characters such as tabs or line breaks");
        }
        if (password.Trim().Length == 0)
        {
            return new("The password may not be only spaces");
        }
        if (commonPasswords.Contains(password))
        {
            return new("This password appears in a list of common or breached passwords; choose another");
        }
        var localPart = username.Split('@')[0];
        if ((username.Length >= 3 && password.Contains(username, StringComparison.OrdinalIgnoreCase))
            || (localPart.Length >= 3 && password.Contains(localPart, StringComparison.OrdinalIgnoreCase)))
        {
            return new("The password may not contain the username");
        }
        if (password.Distinct().Count() == 1)
        {
            return new("The password may not be a single repeated character");
        }
        return null;
    }
}
