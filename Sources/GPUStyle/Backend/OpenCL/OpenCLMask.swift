import Foundation
import Kernels

extension OpenCLBackend {
    public func computeMultiplyByMask(_ x: Tensor, mask: Tensor, output: Tensor, accumulate: Bool) throws {
        let op = "multiplyByMask"
        try elementwise(
            "multiply_by_mask", x.count,
            [
                .buffer(try activationBuffer(x, op)), .buffer(try buffer(mask, op)), .int(x.shape.pixels),
                .buffer(try buffer(output, op)), .flag(accumulate), .int(x.count),
            ], reads: x.format)
    }
}
