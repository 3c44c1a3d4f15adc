using System.Buffers.Binary;
using System.Text;
using Bulwark.DeviceSim.Describe;

namespace Bulwark.DeviceSim.Devices;

// A registered variable: its Describe type and how to read its wire value.
internal sealed class CloudVariable(CloudVariableType type, Func<byte[]> read)
{
    public CloudVariableType Type { get; } = type;

    public byte[] Read() => read();

    public static CloudVariable Of(Func<int> getter) => new(CloudVariableType.Int, () =>
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, getter());
        return bytes;
    });

    // Device OS copies the double's memory as is: little-endian on every platform it runs on.
    public static CloudVariable Of(Func<double> getter) => new(CloudVariableType.Double, () =>
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteDoubleLittleEndian(bytes, getter());
        return bytes;
    });

    public static CloudVariable Of(Func<bool> getter) => new(CloudVariableType.Bool, () => [getter() ? (byte)1 : (byte)0]);

    public static CloudVariable Of(Func<string> getter) => new(CloudVariableType.String, () => Encoding.UTF8.GetBytes(getter()));
}
