import Foundation
import Kernels

extension OpenCLBackend {
    public func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        let op = "encodeReluCodes"
        try elementwise(
            "encode_relu_codes", codes.count,
            [
                .buffer(try activationBuffer(activation, op)), .int(activation.shape.h), .int(activation.shape.w),
                .flag(maxPooled), .buffer(try buffer(codes, op)), .int(activation.count),
            ], reads: activation.format)
    }

    public func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        let op = "decodeReluCodes"
        try elementwise(
            "decode_relu_codes", output.count,
            [.buffer(try buffer(codes, op)), .buffer(try activationBuffer(output, op)), .int(output.count)],
            writes: output.format)
    }
}
