import Foundation
import Kernels

extension OpenCLBackend {
    public func computeMeanSquaredError(
        _ a: Tensor, _ b: Tensor, scale: Float, scalars: Tensor, slot: Int,
        accumulate: Bool
    ) throws {
        let op = "meanSquaredError"
        try requireSameFormat(a, b, op)
        try reduce(
            "mean_squared_error_partial",
            [.buffer(try activationBuffer(a, op)), .buffer(try activationBuffer(b, op)), .int(a.count)],
            scale: Float(Double(scale) / Double(max(a.count, 1))), into: scalars, slot: slot,
            accumulate: accumulate, op: op, reads: a.format)
    }

    public func computeMeanSquaredErrorGradient(
        _ a: Tensor, _ b: Tensor, factor: Float, grad: Tensor,
        accumulate: Bool
    ) throws {
        let op = "meanSquaredErrorGradient"
        try requireSameFormat(a, b, op)
        try elementwise(
            "mean_squared_error_gradient", a.count,
            [
                .buffer(try activationBuffer(a, op)), .buffer(try activationBuffer(b, op)), .float(factor),
                .buffer(try buffer(grad, op)), .flag(accumulate), .int(a.count),
            ], reads: a.format)
    }

    /// The MSE kernels read both operands in one storage.
    private func requireSameFormat(_ a: Tensor, _ b: Tensor, _ op: String) throws {
        guard a.format == b.format else {
            throw StyleError("opencl \(op): a float32 and a 16-bit operand (internal error)")
        }
    }

    public func computeTotalVariation(_ x: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool) throws {
        let op = "totalVariation"
        try reduce(
            "total_variation_partial", [.buffer(try buffer(x, op)), .int(x.shape.h), .int(x.shape.w), .int(x.count)],
            scale: 0.5 * scale, into: scalars, slot: slot, accumulate: accumulate, op: op)
    }

    public func computeTotalVariationGradient(_ x: Tensor, scale: Float, grad: Tensor, accumulate: Bool) throws {
        let op = "totalVariationGradient"
        try elementwiseRows(
            "total_variation_gradient", width: x.shape.w, rows: x.shape.c * x.shape.h,
            [
                .buffer(try buffer(x, op)), .int(x.shape.h), .int(x.shape.w),
                .float(scale), .buffer(try buffer(grad, op)), .flag(accumulate),
            ])
    }
}
