import Foundation
@testable import GPUStyle
import XCTest

/// fill, copy, axpy, scale, clamp and dot.
final class VectorTests: OpTestCase {
    func testVectorOps() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        let shape = Shape(c: 3, h: 100, w: 117)  // 35,100 elements: the parallel path
        let (a, b) = (
            ReferenceTensor.random(shape, using: &generator), ReferenceTensor.random(shape, using: &generator)
        )
        let (x, y) = (try backend.makeTensor(a), try backend.makeTensor(b))
        XCTAssertEqual(try backend.dot(x, y), zip(a.values, b.values).reduce(0) { $0 + $1.0 * $1.1 }, accuracy: 1e-9)
        try backend.axpy(alpha: 0.5, x: x, y: y)
        XCTAssertEqual(try backend.download(y), zip(a.floats, b.floats).map { $1 + 0.5 * $0 })
        try backend.scale(y, by: -2)
        XCTAssertEqual(try backend.download(y), zip(a.floats, b.floats).map { ($1 + 0.5 * $0) * -2 })
        try backend.copy(x, to: y)
        XCTAssertEqual(try backend.download(y), a.floats)
        try backend.fill(y, value: 1.25)
        XCTAssertEqual(try backend.download(y), [Float](repeating: 1.25, count: shape.count))
    }

    /// copyRegion against the reference, on a source and a target of other sizes: a region off
    /// every edge of the source onto an inner point of the target; the rest of the target kept.
    func testCopyRegionMatchesTheReference() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        let backend = NativeBackend()
        let a = ReferenceTensor.random(Shape(c: 5, h: 37, w: 41), using: &generator)
        let b = ReferenceTensor.random(Shape(c: 5, h: 19, w: 23), using: &generator)
        let region = PlaneRegion(y: 20, x: 3, height: 17, width: 18)
        let origin = PlanePoint(y: 1, x: 4)
        let (source, target) = (try backend.makeTensor(a), try backend.makeTensor(b))
        try backend.copyRegion(source, region, to: target, at: origin)
        XCTAssertEqual(try backend.download(target), ReferenceOps.copyRegion(a, region, into: b, at: origin).floats)
        XCTAssertThrowsError(
            try backend.copyRegion(
                source, PlaneRegion(y: 21, x: 3, height: 17, width: 18), to: target, at: origin))
        XCTAssertThrowsError(
            try backend.copyRegion(source, region, to: target, at: PlanePoint(y: 3, x: 4)))
    }

    /// Clamping on both backends: values outside the range go to its ends, values inside and
    /// NaN stay (a NaN image must still reach the loss checks).
    func testClampKeepsNaNAndTheRangeEnds() throws {
        let values: [Float] = [-300, -0.0, 0, 12.5, 255, 255.5, .infinity, -.infinity, .nan, 254.99]
        let expected: [Float] = [0, -0.0, 0, 12.5, 255, 255, 255, 0, .nan, 254.99]
        for backend in try testBackends() {
            let x = try backend.makeTensor(Shape(c: 1, h: 1, w: values.count))
            try backend.upload(values, to: x)
            try backend.clamp(x, lower: 0, upper: 255)
            let result = try backend.download(x)
            XCTAssertEqual(result.map(\.bitPattern), expected.map(\.bitPattern), backend.name)
        }
    }
}
