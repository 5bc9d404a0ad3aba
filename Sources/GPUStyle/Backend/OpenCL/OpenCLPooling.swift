import Foundation
import Kernels

extension OpenCLBackend {
    public func computePool2x2(input: Tensor, mode: PoolMode, output: Tensor) throws {
        let (c, h, w) = (input.shape.c, input.shape.h, input.shape.w)
        let (x, y) = (try activationBuffer(input, "pool2x2"), try activationBuffer(output, "pool2x2"))
        let launch = rowLaunch(units: w / 2, rows: h / 2, planes: c, groupWidth: 0)
        try context.enqueue(
            try kernel("pool2x2", reads: input.format, writes: output.format), global: launch.global,
            local: launch.local,
            [.buffer(x), .int(h), .int(w), .flag(mode == .max), .int(launch.blocksPerItem), .buffer(y)])
    }

    public func computePool2x2Backward(
        gradOutput: Tensor, input: Tensor, mode: PoolMode, gradInput: Tensor,
        accumulate: Bool
    ) throws {
        let op = "pool2x2Backward"
        let (h, w) = (input.shape.h, input.shape.w)
        try elementwise(
            "pool2x2_backward", input.count,
            [
                .buffer(try buffer(gradOutput, op)), .buffer(try activationBuffer(input, op)), .int(h), .int(w),
                .flag(mode == .max), .buffer(try buffer(gradInput, op)), .flag(accumulate), .int(input.count),
            ], reads: input.format)
    }

    public func computeReluPool2x2Backward(
        gradOutput: Tensor, activation: Tensor, mode: PoolMode, gradInput: Tensor
    ) throws {
        let op = "reluPool2x2Backward"
        let (c, h, w) = (activation.shape.c, activation.shape.h, activation.shape.w)
        let launch = rowLaunch(units: w / 2, rows: (h + 1) / 2, planes: c, groupWidth: 0)
        try context.enqueue(
            try kernel("relu_pool2x2_backward", reads: activation.format), global: launch.global,
            local: launch.local,
            [
                .buffer(try buffer(gradOutput, op)), .buffer(try activationBuffer(activation, op)),
                .buffer(try buffer(gradInput, op)), .int(h), .int(w), .flag(mode == .max),
                .int(launch.blocksPerItem),
            ])
    }
}
