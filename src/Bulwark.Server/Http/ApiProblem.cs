using Bulwark.Contracts;

namespace Bulwark.Server.Http;

/// <summary>The one error contract: every failure leaves the server as <c>{error, error_description}</c>
/// with the status code Particle's clients expect.</summary>
public static class ApiProblem
{
    public static IResult Create(int status, string error, string description) =>
        TypedResults.Json(new ApiError(error, description), ApiJson.Options, statusCode: status);

    public static IResult BadRequest(string description, string error = "invalid_request") => Create(400, error, description);

    public static IResult Unauthorized(string description = "The access token was not found, has expired or was revoked") =>
        Create(401, "invalid_token", description);

    public static IResult Forbidden(string description, string error = "forbidden") => Create(403, error, description);

    public static IResult NotFound(string description = "Not found") => Create(404, "not_found", description);

    public static IResult Conflict(string description, string error = "conflict") => Create(409, error, description);

    public static IResult TooManyRequests(string description) => Create(429, "too_many_requests", description);
}

/// <summary>Thrown by request parsing when the body cannot be understood; turned into a 4xx by <see cref="ApiErrorMiddleware"/>.</summary>
public sealed class ApiRequestException(int status, string error, string description) : Exception(description)
{
    public int Status { get; } = status;
    public string Error { get; } = error;
    public string Description { get; } = description;

    public static ApiRequestException BadRequest(string description) => new(400, "invalid_request", description);
}
