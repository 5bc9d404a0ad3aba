import CBLAS
import Foundation

extension NativeBackend {
    public func computeAdamStep(
        parameter: Tensor, gradient: Tensor, m: Tensor, v: Tensor, parameters: AdamParameters,
        corrections: AdamCorrections
    ) throws {
        let p = try native(parameter, "adamStep").pointer, g = try native(gradient, "adamStep").pointer
        let ms = try native(m, "adamStep").pointer, vs = try native(v, "adamStep").pointer
        let (beta1, beta2) = (parameters.beta1, parameters.beta2)
        // The per-element update in Float, like the kernel.
        let (correction1, correction2) = (corrections.first, corrections.second)
        let (rate, epsilon) = (parameters.learningRate, parameters.epsilon)
        HostParallel.forEachChunk(parameter.count) { range in
            for i in range {
                let mi = beta1 * ms[i] + (1 - beta1) * g[i]
                let vi = beta2 * vs[i] + (1 - beta2) * g[i] * g[i]
                ms[i] = mi
                vs[i] = vi
                p[i] -= rate * (mi / correction1) / ((vi / correction2).squareRoot() + epsilon)
            }
        }
    }
}
