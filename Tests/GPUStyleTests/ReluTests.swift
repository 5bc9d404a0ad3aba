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
