import Foundation

/// TV-L1's constants (Sánchez Pérez, Meinhardt-Llopis & Facciolo, IPOL 2013, whose defaults
/// these are, for intensities in 0–255): the data weight λ, the coupling θ and the dual step τ.
public struct TVL1Parameters: Equatable, Sendable {
    public var lambda: Float = 0.15
    public var theta: Float = 0.3
    public var tau: Float = 0.25

    public init(lambda: Float = 0.15, theta: Float = 0.3, tau: Float = 0.25) {
        self.lambda = lambda
        self.theta = theta
        self.tau = tau
    }

    /// λθ, the primal step's threshold per unit of |∇I|², and τ/θ, the dual step's.
    public var lambdaTheta: Float { lambda * theta }
    public var dualStep: Float { tau / theta }
}

/// Optical flow between two frames on a backend: TV-L1 with warping, coarse to fine
/// (docs/DESIGN.md, "Optical flow"). Every step is an op of the table, so the frames, the
/// pyramid and the flow stay on the device; the host only sequences the steps, a fixed number
/// of them (deterministic, and no value is read back).
public struct OpticalFlow: Equatable, Sendable {
    public var parameters = TVL1Parameters()
    /// Primal-dual iterations per warp, and warps per pyramid level.
    public var iterations = 50
    public var warps = 5
    /// Levels are halved (2×2 average pooling) while the shorter side stays at least this.
    public var coarsestSide = 12

    public init() {}

    /// A frame's luminance in 0–255 (Rec. 601 weights), 1×H×W: what the flow compares.
    public static func luminance(_ image: RGBImage) -> [Float] {
        let plane = image.planeSize
        return (0..<plane).map { p in
            0.299 * image.pixels[p] + 0.587 * image.pixels[plane + p] + 0.114 * image.pixels[2 * plane + p]
        }
    }

    /// The flow w (2×H×W: x then y displacement) with from(x) ≈ to(x + w(x)), for two 1×H×W
    /// frames on `backend`. Enqueues only; the result stays on the device.
    public func flow(backend: Backend, from: Tensor, to: Tensor) throws -> Tensor {
        guard from.shape == to.shape, from.shape.c == 1, from.count > 0 else {
            throw StyleError(
                "optical flow: frames of shapes \(from.shape) and \(to.shape), not two 1×H×W (internal error)"
            )
        }
        // The pyramids, finest first.
        var levels = [(from: from, to: to)]
        while let last = levels.last, min(last.from.shape.h, last.from.shape.w) / 2 >= coarsestSide {
            let shape = last.from.shape.pooled
            let next = (from: try backend.makeTensor(shape), to: try backend.makeTensor(shape))
            try backend.pool2x2(input: last.from, mode: .avg, output: next.from)
            try backend.pool2x2(input: last.to, mode: .avg, output: next.to)
            levels.append(next)
        }
        var flow: Tensor?
        for level in levels.reversed() {
            let shape = level.from.shape
            let flowShape = Shape(c: 2, h: shape.h, w: shape.w), dualShape = Shape(c: 4, h: shape.h, w: shape.w)
            var current = try backend.makeTensor(flowShape)
            if let coarse = flow { try backend.upsampleFlow(coarse, output: current) }
            var next = try backend.makeTensor(flowShape)
            // The dual fields start at 0 on every level and carry over between warps.
            var dual = try backend.makeTensor(dualShape)
            var nextDual = try backend.makeTensor(dualShape)
            let base = try backend.makeTensor(flowShape)
            let warped = try backend.makeTensor(shape)
            let derivatives = try backend.makeTensor(Shape(c: 3, h: shape.h, w: shape.w))
            for _ in 0..<warps {
                try backend.warpBilinear(level.to, flow: current, output: warped)
                try backend.flowDerivatives(reference: level.from, warped: warped, output: derivatives)
                try backend.copy(current, to: base)
                for _ in 0..<iterations {
                    try backend.tvl1PrimalStep(
                        derivatives: derivatives, base: base, flow: current, dual: dual, parameters: parameters,
                        output: next)
                    swap(&current, &next)
                    try backend.tvl1DualStep(flow: current, dual: dual, parameters: parameters, output: nextDual)
                    swap(&dual, &nextDual)
                }
                try backend.median3x3(current, output: next)
                swap(&current, &next)
            }
            flow = current
        }
        guard let flow else { throw StyleError("optical flow: no pyramid level (internal error)") }
        return flow
    }

    /// The flow between two images of one size, uploaded as luminance; downloaded.
    public func flow(backend: Backend, from: RGBImage, to: RGBImage) throws -> [Float] {
        guard from.width == to.width, from.height == to.height else {
            throw StyleError(
                "optical flow: frames of \(from.width)×\(from.height) and \(to.width)×\(to.height); "
                    + "give frames of one size"
            )
        }
        let shape = Shape(c: 1, h: from.height, w: from.width)
        let (a, b) = (try backend.makeTensor(shape), try backend.makeTensor(shape))
        try backend.upload(OpticalFlow.luminance(from), to: a)
        try backend.upload(OpticalFlow.luminance(to), to: b)
        return try backend.download(try flow(backend: backend, from: a, to: b))
    }
}

/// Middlebury's .flo file (Baker et al. 2011), what OpenCV, flow benchmarks and viewers read:
/// the float 202021.25 ("PIEH"), width and height as int32, then u, v per pixel in row order,
/// all little-endian.
public enum FlowFile {
    public static let magic: Float = 202021.25

    /// The bytes of a 2×H×W flow (planes u then v).
    public static func encode(_ flow: [Float], width: Int, height: Int) throws -> [UInt8] {
        let plane = width * height
        guard flow.count == 2 * plane, width > 0, height > 0 else {
            throw StyleError("flow file: \(flow.count) values for a \(width)×\(height) flow (internal error)")
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(12 + 8 * plane)
        func append<T: FixedWidthInteger>(_ value: T) {
            withUnsafeBytes(of: value.littleEndian) { bytes.append(contentsOf: $0) }
        }
        append(magic.bitPattern)
        append(Int32(width))
        append(Int32(height))
        for p in 0..<plane {
            append(flow[p].bitPattern)
            append(flow[plane + p].bitPattern)
        }
        return bytes
    }

    /// Writes the flow to `path` atomically (a temporary file renamed into place).
    public static func write(_ flow: [Float], width: Int, height: Int, to path: String) throws {
        let bytes = try encode(flow, width: width, height: height)
        try AtomicOutput.write(to: path) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: Data(bytes)) else {
                throw StyleError("\(path): could not write the flow file; check the folder is writable and has space")
            }
        }
    }
}
