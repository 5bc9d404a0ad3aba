import Foundation
@testable import GPUStyle
import XCTest

/// relu and reluBackward.
final class ReluTests: OpTestCase {
    func testReluBackward() throws {
        let z = wellSpaced(Shape(c: 2, h: 3, w: 5))
        let r = ReferenceTensor.random(z.shape, using: &generator)
        let numeric = centralDifferences(z) { weightedSum(r, ReferenceOps.relu($0)) }
        let activation = try backend.makeTensor(z.shape)
        try backend.relu(input: backend.makeTensor(z), output: activation)
        let gradient = try backend.makeTensor(r)
        try backend.reluBackward(gradOutput: gradient, activation: activation, gradInput: gradient)  // in place
        try assertGradient(backend.download(gradient), numeric, "relu")
    }
}

extension BackendOpsTests {
    static let reluRows: [Row] = [
        Row(
            name: "relu forward and backward (in place too)", cases: planeCases,
            inputs: { c, g in [random(c.shape, &g), random(c.shape, &g)] },
            run: { backend, x, _, _ in
                let (a, dy) = (try backend.makeTensor(x[0]), try backend.makeTensor(x[1]))
                let out = try backend.makeTensor(x[0].shape)
                try backend.relu(input: a, output: out)
                let forward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: out)
                let backward = try backend.download(out)
                try backend.reluBackward(gradOutput: dy, activation: a, gradInput: dy)
                return forward + backward + (try backend.download(dy))
            },
            terms: { _ in 0 })
    ]
}
