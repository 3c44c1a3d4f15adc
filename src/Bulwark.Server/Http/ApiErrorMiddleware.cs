using Bulwark.Contracts;
using Microsoft.AspNetCore.Http.Features;

namespace Bulwark.Server.Http;

/// <summary>Turns everything that would otherwise leave as an empty or HTML answer (bad bodies, oversize
/// bodies, unknown routes, wrong methods, unexpected exceptions) into the API's JSON error shape.</summary>
public sealed partial class ApiErrorMiddleware(RequestDelegate next, ILogger<ApiErrorMiddleware> logger)
{
    public async Task InvokeAsync(HttpContext context)
    {
        try
        {
            await next(context);
        }
        catch (ApiRequestException e) when (!context.Response.HasStarted)
        {
            await WriteAsync(context, e.Status, e.Error, e.Description);
            return;
        }
        catch (BadHttpRequestException e) when (!context.Response.HasStarted)
        {
            var status = e.StatusCode == 413 ? 413 : 400;
            await WriteAsync(context, status, status == 413 ? "payload_too_large" : "invalid_request",
                status == 413 ? "The request body is too large" : "The request could not be read: " + e.Message);
            return;
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            return;
        }
        catch (Exception e) when (!context.Response.HasStarted)
        {
            LogUnhandled(logger, e, context.Request.Method, context.Request.Path);
            await WriteAsync(context, 500, "server_error", "The server failed to handle the request");
            return;
        }

        if (context.Response.HasStarted || context.Response.ContentLength > 0 || context.Response.ContentType is not null)
        {
            return;
        }
        switch (context.Response.StatusCode)
        {
            case 404:
                await WriteAsync(context, 404, "not_found", "No such endpoint: " + context.Request.Method + " " + context.Request.Path);
                break;
            case 405:
                await WriteAsync(context, 405, "method_not_allowed", "Method " + context.Request.Method + " is not allowed on " + context.Request.Path);
                break;
            case 415:
                await WriteAsync(context, 415, "unsupported_media_type", "Send the body as application/json or application/x-www-form-urlencoded");
                break;
            case 401:
                await WriteAsync(context, 401, "invalid_token", "The access token was not found, has expired or was revoked");
                break;
            case 403:
                await WriteAsync(context, 403, "forbidden", "You are not allowed to do this");
                break;
        }
    }

    private static Task WriteAsync(HttpContext context, int status, string error, string description)
    {
        context.Response.Clear();
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new ApiError(error, description), ApiJson.Options);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unhandled exception for {Method} {Path}")]
    private static partial void LogUnhandled(ILogger logger, Exception exception, string method, string path);
}
