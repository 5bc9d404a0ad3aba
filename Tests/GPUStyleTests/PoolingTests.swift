import Foundation
@testable import GPUStyle
import XCTest

/// pool2x2 (max and avg) against the Float64 reference, max-pool ties and the fused ReLU-pool
/// backward (the op table checks the backward ops against finite differences).
final class PoolingTests: OpTestCase {
    func testReluAndMaxPoolAreExact() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        // 35,000 and 33,633 elements: several parallel chunks, the last one partial; odd pooling sizes.
        for shape in [
            Shape(c: 5, h: 70, w: 100), Shape(c: 3, h: 101, w: 111), Shape(c: 67, h: 1, w: 13), Shape(c: 1, h: 3, w: 1),
        ] {
            let input = ReferenceTensor.random(shape, using: &generator)
            let x = try backend.makeTensor(input)
            let relu = try backend.makeTensor(shape)
            try backend.relu(input: x, output: relu)
            XCTAssertEqual(try backend.reference(relu), ReferenceOps.relu(input), "relu \(shape)")
            let pooled = try backend.makeTensor(Shape(c: shape.c, h: shape.h / 2, w: shape.w / 2))
            try backend.pool2x2(input: x, mode: .max, output: pooled)
            XCTAssertEqual(try backend.reference(pooled), ReferenceOps.pool2x2(input, mode: .max), "max pool \(shape)")
        }
    }

    func testAveragePoolMatchesReference() throws {
        let backend = NativeBackend()
        for shape in [
            Shape(c: 3, h: 101, w: 111), Shape(c: 5, h: 7, w: 13), Shape(c: 1, h: 2, w: 2), Shape(c: 64, h: 1, w: 7),
        ] {
            let input = ReferenceTensor.random(shape, using: &generator)
            let pooled = try backend.makeTensor(Shape(c: shape.c, h: shape.h / 2, w: shape.w / 2))
            try backend.pool2x2(input: backend.makeTensor(input), mode: .avg, output: pooled)
            let magnitudes = ReferenceOps.pool2x2(input.magnitudes, mode: .avg)
            // three additions; the ·¼ is exact
            try assertClose(
                backend.download(pooled), ReferenceOps.pool2x2(input, mode: .avg),
                bounds: magnitudes.values.map { float32ErrorFactor(terms: 3) * $0 }, "avg pool \(shape)")
        }
    }

    /// The fused in-place op is bit for bit what the two ops it replaces compute (the backward
    /// pass relies on that: ObjectiveGradientTests); the op table's grad mode checks it is the
    /// gradient of pool(relu(z)). Rows of 3 windows (scalar), and of 18 (two runs of eight
    /// lanes, then two), with values from a few levels so windows tie and hold zeros.
    func testReluPoolBackwardInPlaceIsBitwiseTheTwoOpsOnOddSizes() throws {
        for (shape, levels) in [
            (Shape(c: 2, h: 5, w: 7), false), (Shape(c: 3, h: 9, w: 37), false), (Shape(c: 3, h: 9, w: 37), true),
        ] {
            var z = ReferenceTensor.random(shape, using: &generator)
            if levels { z = ReferenceTensor(shape: shape, values: z.values.map { ($0 * 2).rounded() }) }
            let r = ReferenceTensor.random(Shape(c: shape.c, h: shape.h / 2, w: shape.w / 2), using: &generator)
            for mode in PoolMode.allCases {
                let activation = try backend.makeTensor(z.shape), dy = try backend.makeTensor(r)
                try backend.relu(input: backend.makeTensor(z), output: activation)
                let separate = try backend.makeTensor(z.shape)
                try backend.pool2x2Backward(
                    gradOutput: dy, input: activation, mode: mode, gradInput: separate, accumulate: false)
                try backend.reluBackward(gradOutput: separate, activation: activation, gradInput: separate)
                try backend.reluPool2x2Backward(
                    gradOutput: dy, activation: activation, mode: mode, gradInput: activation)
                XCTAssertTrue(try backend.download(separate).contains { $0 != 0 }, "\(mode) \(shape)")
                XCTAssertEqual(try backend.download(activation), try backend.download(separate), "\(mode) \(shape)")
            }
        }
    }

    func testMaxPoolTiesRouteToTheFirstMaximumInRowMajorOrder() throws {
        let input = try backend.makeTensor(
            ReferenceTensor(
                shape: Shape(c: 1, h: 2, w: 4),
                values: [
                    1, 3, 5, 5,
                    3, 2, 5, 5,
                ]))
        let gradInput = try backend.makeTensor(input.shape)
        try backend.pool2x2Backward(
            gradOutput: backend.makeTensor(ReferenceTensor(shape: Shape(c: 1, h: 1, w: 2), values: [10, 20])),
            input: input, mode: .max, gradInput: gradInput, accumulate: false)
        XCTAssertEqual(
            try backend.download(gradInput),
            [
                0, 10, 20, 0,
                0, 0, 0, 0,
            ])
    }
}
