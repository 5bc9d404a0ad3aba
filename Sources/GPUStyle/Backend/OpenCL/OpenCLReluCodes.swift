import Foundation
import Kernels

extension OpenCLBackend {
    public func computeEncodeReluCodes(_ activation: Tensor, maxPooled: Bool, codes: Tensor) throws {
        let op = "encodeReluCodes"
        let shape = activation.shape
        let launch = rowLaunch(units: Shape.reluCodesPerRow(shape.w), rows: shape.h, planes: shape.c, groupWidth: 0)
        try context.enqueue(
            try kernel("encode_relu_codes", reads: activation.format), global: launch.global, local: launch.local,
            [
                .buffer(try activationBuffer(activation, op)), .int(shape.h), .int(shape.w), .flag(maxPooled),
                .int(launch.blocksPerItem), .buffer(try buffer(codes, op)),
            ])
    }

    public func computeDecodeReluCodes(_ codes: Tensor, output: Tensor) throws {
        let op = "decodeReluCodes"
        let shape = output.shape
        let launch = rowLaunch(units: Shape.reluCodesPerRow(shape.w), rows: shape.h, planes: shape.c, groupWidth: 0)
        try context.enqueue(
            try kernel("decode_relu_codes", writes: output.format), global: launch.global, local: launch.local,
            [
                .buffer(try buffer(codes, op)), .int(shape.h), .int(shape.w), .int(launch.blocksPerItem),
                .buffer(try activationBuffer(output, op)),
            ])
    }
}
