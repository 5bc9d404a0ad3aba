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
    /// `encodeReluCodes`'s floats for a tensor of `shape`: ten two-bit codes of a row in each.
    public static func reluCodes(of shape: Shape) -> Shape { .vector(shape.c * shape.h * reluCodesPerRow(shape.w)) }
    /// The floats of a row of `width` elements' codes.
    public static func reluCodesPerRow(_ width: Int) -> Int { (width + reluCodesPerFloat - 1) / reluCodesPerFloat }
    /// Two-bit codes in the 20 lowest fraction bits of one float (Kernels.cl's CODES_PER_WORD):
    /// five pooling windows.
    static let reluCodesPerFloat = 10

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

/// A handle to backend memory plus its shape: float32 values, or with `format` `.half` a layer
/// output in 16-bit storage (`Backend.makeViews`; only the ops that read or write layer outputs
/// take those). Creating one allocates; the run loop creates all of them before the first iteration.
public final class Tensor {
    public let shape: Shape
    public let storage: TensorStorage
    public let format: ActivationStorage

    public init(shape: Shape, storage: TensorStorage, format: ActivationStorage = .float) {
        self.shape = shape
        self.storage = storage
        self.format = format
    }

    public var count: Int { shape.count }
}

/// A point of a plane: row y, column x.
public struct PlanePoint: Equatable, Hashable, Sendable {
    public var y: Int
    public var x: Int

    public init(y: Int, x: Int) {
        self.y = y
        self.x = x
    }
}

/// A rectangle of a plane: rows y..<y + height, columns x..<x + width.
public struct PlaneRegion: Equatable, Hashable, Sendable, CustomStringConvertible {
    public var y: Int
    public var x: Int
    public var height: Int
    public var width: Int

    public init(y: Int, x: Int, height: Int, width: Int) {
        self.y = y
        self.x = x
        self.height = height
        self.width = width
    }

    public var origin: PlanePoint { PlanePoint(y: y, x: x) }
    public var pixels: Int { height * width }
    public var isEmpty: Bool { height == 0 || width == 0 }
    public var description: String { "\(width)×\(height) at (\(x), \(y))" }

    /// Whether the rectangle lies within planes of height × width (sizes ≥ 0).
    public func lies(inHeight planeHeight: Int, width planeWidth: Int) -> Bool {
        y >= 0 && x >= 0 && height >= 0 && width >= 0 && y + height <= planeHeight && x + width <= planeWidth
    }

    /// The same rectangle relative to `origin`.
    public func relative(to origin: PlanePoint) -> PlaneRegion {
        PlaneRegion(y: y - origin.y, x: x - origin.x, height: height, width: width)
    }
}

/// A tensor inside one allocation (`Backend.makeViews`).
public struct TensorView: Equatable, Sendable {
    public var offset: Int
    public var shape: Shape
    public var format: ActivationStorage

    public var byteCount: Int { shape.count * format.valueBytes }
}
