import Foundation
import Kernels

extension OpenCLBackend {
    public func computeRelu(input: Tensor, output: Tensor) throws {
        try elementwise(
            "relu", input.count,
            [
                .buffer(try activationBuffer(input, "relu")), .buffer(try activationBuffer(output, "relu")),
                .int(input.count),
            ], reads: input.format, writes: output.format)
    }

    public func computeReluBackward(gradOutput: Tensor, activation: Tensor, gradInput: Tensor) throws {
        let op = "reluBackward"
        try elementwise(
            "relu_backward", gradOutput.count,
            [
                .buffer(try buffer(gradOutput, op)),
                .buffer(try activationBuffer(activation, op)),
                .buffer(try buffer(gradInput, op)), .int(gradOutput.count),
            ], reads: activation.format)
    }
}
