namespace Bulwark.Protocol.Messages;

/// <summary>What a CoAP message means in the Particle protocol (device-protocol.md 1.5).</summary>
public enum ParticleMessageKind
{
    Unknown = 0,
    Hello,
    /// <summary>Device-initiated Describe: CON POST /d?flags.</summary>
    Describe,
    /// <summary>Cloud asks for a Describe: CON GET /d?flags.</summary>
    DescribeRequest,
    FunctionCall,
    VariableRequest,
    /// <summary>POST /E or /e, in either direction.</summary>
    Event,
    Subscribe,
    TimeRequest,
    Ping,
    Signal,
    KeyChange,
    ServerMoved,
    Goodbye,
    UpdateBegin,
    Chunk,
    ChunkMissed,
    UpdateDone,
    UpdateStartV3,
    UpdateChunkV3,
    UpdateFinishV3,
    /// <summary>OTA v3 UpdateAck from the device: NON POST /A.</summary>
    UpdateAckV3,
    /// <summary>An empty ACK (0.00).</summary>
    EmptyAck,
    /// <summary>An RST.</summary>
    Reset,
    /// <summary>A piggybacked or separate response (classes 2, 4, 5); match it by token.</summary>
    Response,
}

/// <summary>Maps a decoded CoAP message to its Particle meaning by code and first Uri-Path character, as Device OS does.</summary>
public static class ParticleMessageClassifier
{
    /// <summary>Classifies one message.</summary>
    public static ParticleMessageKind Classify(Coap.CoapMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.Code.IsEmpty)
        {
            return message.Type switch
            {
                Coap.CoapMessageType.Confirmable => ParticleMessageKind.Ping,
                Coap.CoapMessageType.Acknowledgement => ParticleMessageKind.EmptyAck,
                Coap.CoapMessageType.Reset => ParticleMessageKind.Reset,
                _ => ParticleMessageKind.Unknown,
            };
        }

        if (message.Code.IsResponse)
        {
            return ParticleMessageKind.Response;
        }

        char selector = (char)message.GetUriPathSelector();
        return message.Code.Value switch
        {
            0x01 => selector switch
            {
                'd' => ParticleMessageKind.DescribeRequest,
                'v' => ParticleMessageKind.VariableRequest,
                't' => ParticleMessageKind.TimeRequest,
                'e' or 'E' => ParticleMessageKind.Subscribe,
                'c' => ParticleMessageKind.ChunkMissed,
                _ => ParticleMessageKind.Unknown,
            },
            0x02 => selector switch
            {
                'h' => ParticleMessageKind.Hello,
                'd' => ParticleMessageKind.Describe,
                'e' or 'E' => ParticleMessageKind.Event,
                'f' => ParticleMessageKind.FunctionCall,
                'u' => ParticleMessageKind.UpdateBegin,
                'c' => ParticleMessageKind.Chunk,
                'x' => ParticleMessageKind.Goodbye,
                'M' => ParticleMessageKind.ServerMoved,
                'S' => ParticleMessageKind.UpdateStartV3,
                'C' => ParticleMessageKind.UpdateChunkV3,
                'F' => ParticleMessageKind.UpdateFinishV3,
                'A' => ParticleMessageKind.UpdateAckV3,
                _ => ParticleMessageKind.Unknown,
            },
            0x03 => selector switch
            {
                'k' => ParticleMessageKind.KeyChange,
                'u' => ParticleMessageKind.UpdateDone,
                's' => ParticleMessageKind.Signal,
                _ => ParticleMessageKind.Unknown,
            },
            _ => ParticleMessageKind.Unknown,
        };
    }
}
