import Foundation

/// Per-channel affine map with a channel permutation: `out[c] = in[permutation[c]] * scale[c] + offset[c]`.
/// Both preprocessing flavours of docs/DESIGN.md are of this form:
/// caffe: permutation BGR, scale 1, offset −mean; torch: identity, scale 1/(255·std), offset −mean/std.
public struct ChannelAffine: Equatable, Sendable {
    public var permutation: [Int]
    public var scale: [Float]
    public var offset: [Float]

    public init(permutation: [Int], scale: [Float], offset: [Float]) {
        precondition(permutation.count == 3 && scale.count == 3 && offset.count == 3)
        self.permutation = permutation
        self.scale = scale
        self.offset = offset
    }
}
