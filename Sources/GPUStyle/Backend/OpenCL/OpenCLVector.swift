import Foundation
import Kernels

extension OpenCLBackend {
    public func computeFill(_ tensor: Tensor, value: Float) throws {
        try elementwise(
            "fill", tensor.count, [.buffer(try buffer(tensor, "fill")), .float(value), .int(tensor.count)])
    }

    public func computeCopy(_ x: Tensor, to y: Tensor) throws {
        guard x.format == y.format else {
            throw StyleError("opencl copy: between a float32 and a 16-bit tensor (internal error)")
        }
        try context.copy(
            try activationBuffer(x, "copy"), to: try activationBuffer(y, "copy"),
            bytes: x.count * x.format.valueBytes)
    }

    public func computeCopyRegion(
        _ source: Tensor, _ region: PlaneRegion, to target: Tensor, at origin: PlanePoint
    ) throws {
        try context.enqueue(
            try kernel("copy_region", reads: source.format), global: [region.width, region.height, source.shape.c],
            [
                .buffer(try activationBuffer(source, "copyRegion")), .int(source.shape.h), .int(source.shape.w),
                .int(region.y), .int(region.x), .buffer(try activationBuffer(target, "copyRegion")),
                .int(target.shape.h), .int(target.shape.w), .int(origin.y), .int(origin.x),
            ])
    }

    public func computeAxpy(alpha: Float, x: Tensor, y: Tensor) throws {
        try elementwise(
            "axpy", x.count,
            [
                .float(alpha), .buffer(try buffer(x, "axpy")), .buffer(try buffer(y, "axpy")),
                .int(x.count),
            ])
    }

    public func computeScale(_ x: Tensor, by alpha: Float) throws {
        try elementwise("scale", x.count, [.buffer(try buffer(x, "scale")), .float(alpha), .int(x.count)])
    }

    public func computeClamp(_ x: Tensor, lower: Float, upper: Float) throws {
        try elementwise(
            "clamp_in_place", x.count,
            [.buffer(try buffer(x, "clamp")), .float(lower), .float(upper), .int(x.count)])
    }

    public func computeRoundToHalf(_ x: Tensor) throws {
        try elementwise("round_to_half", x.count, [.buffer(try buffer(x, "roundToHalf")), .int(x.count)])
    }

    public func computeDot(_ x: Tensor, _ y: Tensor) throws -> Double {
        try reduceToBuffer(
            "dot_partial", [.buffer(try buffer(x, "dot")), .buffer(try buffer(y, "dot")), .int(x.count)],
            scale: 1, into: dotResult, slot: 0, accumulate: false)
        return Double(try context.read(dotResult, count: 1)[0])
    }
}
