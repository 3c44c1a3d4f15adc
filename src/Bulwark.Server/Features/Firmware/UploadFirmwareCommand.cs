using System.Globalization;
using Bulwark.Contracts;
using Bulwark.Firmware;
using Bulwark.Server.Data;
using Bulwark.Server.Features.Audit;
using Bulwark.Server.Features.Teams;
using Bulwark.Server.Http;
using Bulwark.Server.Security;
using Microsoft.EntityFrameworkCore;

namespace Bulwark.Server.Features.Firmware;

/// <summary><c>POST /v1/products/:p/firmware</c>, multipart: the binary (part <c>binary</c> as the docs say, or <c>file</c> as
/// particle-api-js sends it), <c>version</c>, <c>title</c>, <c>description</c>, <c>mandatory</c>. The binary must parse
/// (integrity first), be a user part for the product's platform, carry this product's id and the given version, and fit
/// the platform; the version must be new.</summary>
public static class UploadFirmwareCommand
{
    public const int MaxTitleLength = 128;
    public const int MaxDescriptionLength = 4000;

    /// <summary>Above every platform's user-part limit (1.5 MiB on the largest), so the platform check is the one that speaks.</summary>
    public const int MaxBinaryBytes = 4 * 1024 * 1024;

    public static async Task<IResult> HandleAsync(HttpContext context, BulwarkDbContext db, IProductFleet fleet, AuditLog audit, TimeProvider clock)
    {
        var product = context.Grant().Product!;
        var request = context.Request;
        if (!request.HasFormContentType || request.ContentType?.StartsWith("multipart/", StringComparison.OrdinalIgnoreCase) != true)
        {
            return ApiProblem.BadRequest("Upload the firmware as multipart/form-data with the binary in a part named 'binary' or 'file'");
        }
        IFormCollection form;
        try
        {
            form = await request.ReadFormAsync(context.RequestAborted);
        }
        catch (InvalidDataException e)
        {
            return ApiProblem.BadRequest("The form body could not be read: " + e.Message);
        }
        var file = form.Files.GetFile("binary") ?? form.Files.GetFile("file");
        if (file is null)
        {
            return ApiProblem.BadRequest("The firmware binary is missing: send it in a part named 'binary' or 'file'");
        }
        if (!int.TryParse(form["version"].ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var version) || version is < 1 or > 65535)
        {
            return ApiProblem.BadRequest("The version must be a whole number from 1 to 65535");
        }
        var title = form["title"].ToString().Trim();
        if (title.Length is 0 or > MaxTitleLength)
        {
            return ApiProblem.BadRequest($"The title must be 1 to {MaxTitleLength} characters");
        }
        var description = form["description"].ToString();
        if (description.Length > MaxDescriptionLength)
        {
            return ApiProblem.BadRequest($"The description is limited to {MaxDescriptionLength} characters");
        }
        var mandatory = form["mandatory"].ToString() is "true" or "1";
        if (file.Length is 0 or > MaxBinaryBytes)
        {
            return ApiProblem.BadRequest($"The binary must be 1 to {MaxBinaryBytes} bytes", "invalid_binary");
        }
        var bytes = new byte[file.Length];
        await using (var stream = file.OpenReadStream())
        {
            await stream.ReadExactlyAsync(bytes, context.RequestAborted);
        }

        var caller = context.Caller();
        var actor = AuditActor.From(context, caller.UserId, caller.Username);
        var problem = Validate(bytes, product, version, out var module);
        if (problem is not null)
        {
            await audit.RecordAsync(db, AuditEventType.FirmwareUploadRefused, actor, ProductAccess.ProductSubject(product.Id),
                $"version {version}: {problem.Value.Description}", context.RequestAborted);
            return ApiProblem.BadRequest(problem.Value.Description, problem.Value.Error);
        }
        if (await db.ProductFirmware.AnyAsync(f => f.ProductId == product.Id && f.Version == version, context.RequestAborted))
        {
            return ApiProblem.Conflict($"Firmware version {version} already exists for this product; versions are never replaced", "version_exists");
        }

        var now = clock.GetUtcNow().UtcDateTime;
        var row = new ProductFirmware
        {
            ProductId = product.Id,
            Version = version,
            Id = Ids.New(),
            Title = title,
            Description = description.Length == 0 ? null : description,
            FileName = string.IsNullOrWhiteSpace(file.FileName) ? "firmware.bin" : Path.GetFileName(file.FileName),
            Size = bytes.Length,
            Sha256 = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(bytes)),
            PlatformId = module!.PlatformId,
            ModuleVersion = module.Version,
            RequiredSystemVersion = RequiredSystemVersion(module),
            IsProtected = module.IsProtected,
            Mandatory = mandatory,
            UploadedAt = now,
            UploadedById = caller.UserId,
            UploadedByName = caller.Username,
        };
        db.ProductFirmware.Add(row);
        db.ProductFirmwareBinaries.Add(new ProductFirmwareBinary { ProductId = product.Id, Version = version, Data = bytes });
        try
        {
            await audit.RecordAsync(db, AuditEventType.FirmwareUploaded, actor, ProductAccess.ProductSubject(product.Id),
                $"version {version}, {bytes.Length} bytes, sha256 {row.Sha256}", context.RequestAborted);
        }
        catch (DbUpdateException)
        {
            return ApiProblem.Conflict($"Firmware version {version} already exists for this product; versions are never replaced", "version_exists");
        }
        return TypedResults.Json(await FirmwareView.OneAsync(db, fleet, row, context.RequestAborted), ApiJson.Options, statusCode: 201);
    }

    /// <summary>Why the binary cannot be this product's firmware version, or null when it can.</summary>
    internal static (string Error, string Description)? Validate(byte[] bytes, Product product, int version, out ParsedModule? module)
    {
        if (!FirmwareModule.TryParse(bytes, out module, out var error))
        {
            return ("invalid_binary", $"The binary is not a valid firmware module ({error.Reason}): {error.Message}");
        }
        if (module.Function != ModuleFunction.UserPart)
        {
            return ("invalid_binary", $"Product firmware must be an application (user part); this module is a {module.Function}");
        }
        if (module.PlatformId != product.PlatformId)
        {
            return ("wrong_platform", $"The binary is built for platform {module.PlatformId}; this product's platform is {product.PlatformId}");
        }
        if (module.ProductId is not { } productId || productId == 0xFFFF)
        {
            return ("wrong_product", "The binary carries no PRODUCT_ID; build it with this product's id");
        }
        if (productId != (product.Id & 0xFFFF))
        {
            return ("wrong_product", $"The binary's PRODUCT_ID is {productId}; this product is {product.Id}");
        }
        if (module.ProductVersion != version)
        {
            return ("version_mismatch", $"The binary's PRODUCT_VERSION is {module.ProductVersion}; the upload says {version}");
        }
        if (KnownPlatforms.MaxModuleSize(module.PlatformId, module.Function) is { } max && bytes.Length > max)
        {
            return ("binary_too_large", $"The binary is {bytes.Length} bytes; platform {module.PlatformId} takes at most {max}");
        }
        return null;
    }

    /// <summary>The Device OS module version the binary's system-part or monolithic dependencies demand.</summary>
    internal static int? RequiredSystemVersion(ParsedModule module)
    {
        var required = module.Dependencies
            .Where(d => d.Function is ModuleFunction.SystemPart or ModuleFunction.MonoFirmware)
            .Select(d => (int?)d.Version).Max();
        return required is 0 ? null : required;
    }
}
