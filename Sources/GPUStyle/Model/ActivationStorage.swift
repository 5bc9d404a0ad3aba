/// How the network keeps its layer outputs between the forward pass and their readers
/// (`--storage`). All arithmetic is float32 either way; `half` rounds every layer output once,
/// to nearest even, as a 16-bit float store would (DESIGN.md, section 3, Half storage).
public enum ActivationStorage: String, Codable, CaseIterable, Sendable {
    case float
    case half

    /// Bytes of one value.
    public var valueBytes: Int { self == .half ? 2 : 4 }
}
