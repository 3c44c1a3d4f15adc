using Bulwark.Protocol.Messages;
using Bulwark.Server.Features.Admission;
using Bulwark.Server.Features.Events;

namespace Bulwark.Server.Gateway;

/// <summary>Product admission in the session: decided once the Hello is recorded; afterwards only devices with full
/// product privileges have their events reach the product's stream. The connection itself is always kept.</summary>
public sealed partial class DeviceSession
{
    private async Task AdmitAsync(HelloPayload hello, CancellationToken token)
    {
        try
        {
            await _services.Store.Admission.AdmitAsync(DeviceId, hello, RemoteAddress, token);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Fail closed: without a decision the device has no product privileges.
            _services.Store.Admission.Revoke(DeviceId);
            LogStoreFailed(_services.Logger, e, DeviceId);
        }
    }

    /// <summary>To the owner's streams, and to the product's stream when the device holds full privileges in it (asked
    /// per event, so approve and deny take effect on a live connection).</summary>
    private void Publish(CloudEvent cloudEvent)
    {
        _services.Bus.Publish(cloudEvent);
        if (_services.Store.Admission.Privileges.FullPrivilegeProductOf(DeviceId) is { } productId)
        {
            _services.Bus.Publish(cloudEvent with { OwnerUserId = ProductEventAudience.Of(productId), ProductId = productId });
        }
    }
}
