/// The shape of a CHW tensor (batch 1). Vectors and scalars use c = 1, h = 1.
public struct Shape: Hashable, CustomStringConvertible, Sendable {
    public var c: Int
    public var h: Int
    public var w: Int

    public init(c: Int, h: Int, w: Int) {
        self.c = c
        self.h = h
        self.w = w
    }

    /// A flat vector of `n` elements.
    public static func vector(_ n: Int) -> Shape { Shape(c: 1, h: 1, w: n) }

    public var count: Int { c * h * w }
    public var pixels: Int { h * w }
    /// The output of 2×2 stride-2 pooling: odd sizes floor.
    public var pooled: Shape { Shape(c: c, h: h / 2, w: w / 2) }
    public var description: String { "\(c)×\(h)×\(w)" }
}

/// Memory owned by one backend. Each backend knows its concrete type.
public protocol TensorStorage: AnyObject {
    /// Bytes this storage holds on its device (for memory accounting).
    var byteCount: Int { get }
}

/// A handle to float32 backend memory plus its shape. Creating one allocates; the run loop
/// creates all of them before the first iteration.
public final class Tensor {
    public let shape: Shape
    public let storage: TensorStorage

    public init(shape: Shape, storage: TensorStorage) {
        self.shape = shape
        self.storage = storage
    }

    public var count: Int { shape.count }
}
