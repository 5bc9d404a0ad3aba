import Foundation
import Kernels

extension OpenCLBackend {
    public func computeAdamStep(
        parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, parameters: AdamParameters,
        corrections: AdamCorrections
    ) throws {
        let op = "adamStep"
        try elementwise(
            "adam_step", parameter.count,
            [
                .buffer(try buffer(parameter, op)), .buffer(try buffer(gradient, op)), .buffer(try buffer(m, op)),
                .buffer(try buffer(v, op)), .float(parameters.beta1), .float(parameters.beta2),
                .float(corrections.first), .float(corrections.second), .float(parameters.learningRate),
                .float(parameters.epsilon), .int(parameter.count),
            ])
    }
}
