import Foundation
@testable import GPUStyle
import XCTest

/// multiplyByMask against the Float64 reference (the op table checks it against OpenCL and its
/// gradient against finite differences).
final class MaskTests: OpTestCase {
    func testMultiplyByMaskMatchesTheReferenceAndAccumulates() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        for shape in [Shape(c: 3, h: 70, w: 100), Shape(c: 67, h: 13, w: 1), Shape(c: 1, h: 1, w: 1)] {
            let x = ReferenceTensor.random(shape, using: &generator)
            let mask = ReferenceTensor.random(Shape(c: 1, h: shape.h, w: shape.w), in: 0...1, using: &generator)
            let start = ReferenceTensor.random(shape, using: &generator)
            let expected = ReferenceOps.multiplyByMask(x, mask: mask)
            let (tx, tm) = (try backend.makeTensor(x), try backend.makeTensor(mask))
            let output = try backend.makeTensor(start)
            try backend.multiplyByMask(tx, mask: tm, output: output, accumulate: false)
            // One float product, correctly rounded: exactly the reference rounded to Float.
            XCTAssertEqual(try backend.download(output), expected.floats, "\(shape)")
            try backend.upload(start.floats, to: output)
            try backend.multiplyByMask(tx, mask: tm, output: output, accumulate: true)
            let sums = zip(start.values, expected.values).map { $0 + $1 }
            for (actual, exact) in zip(try backend.download(output), sums) {
                XCTAssertEqual(Double(actual), exact, accuracy: float32ErrorFactor(terms: 2) * 2)
            }
        }
        let x = try backend.makeTensor(Shape(c: 2, h: 3, w: 4))
        XCTAssertThrowsError(
            try backend.multiplyByMask(
                x, mask: try backend.makeTensor(Shape(c: 1, h: 4, w: 3)), output: try backend.makeTensor(x.shape),
                accumulate: false))
    }
}
