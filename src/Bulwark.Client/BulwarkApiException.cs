using System.Net;

namespace Bulwark.Client;

/// <summary>A non-success answer from the Bulwark API, carrying the API's <c>{error, error_description}</c>.</summary>
public sealed class BulwarkApiException : Exception
{
    public BulwarkApiException(HttpStatusCode statusCode, string error, string description, TimeSpan? retryAfter = null)
        : base(description)
    {
        StatusCode = statusCode;
        Error = error;
        Description = description;
        RetryAfter = retryAfter;
    }

    public BulwarkApiException()
        : this(HttpStatusCode.InternalServerError, "unknown", "The server answered with an error")
    {
    }

    public BulwarkApiException(string message)
        : this(HttpStatusCode.InternalServerError, "unknown", message)
    {
    }

    public BulwarkApiException(string message, Exception innerException)
        : base(message, innerException)
    {
        StatusCode = HttpStatusCode.InternalServerError;
        Error = "unknown";
        Description = message;
    }

    public HttpStatusCode StatusCode { get; }

    /// <summary>The machine-readable code, e.g. <c>invalid_grant</c>, <c>mfa_required</c>, <c>not_found</c>.</summary>
    public string Error { get; }

    /// <summary>The human-readable explanation the server gave (or the body text when it was not JSON).</summary>
    public string Description { get; }

    /// <summary>The server's <c>Retry-After</c>, when it sent one (rate limiting and lockouts).</summary>
    public TimeSpan? RetryAfter { get; }
}
