import Foundation
@testable import GPUStyle
import XCTest

/// The backward ops read from decoded codes exactly what they read from the ReLU output the codes
/// were encoded from (the tiled objective relies on that: TiledObjectiveTests); the op table checks
/// the backends agree. Values from a few levels, so windows tie, hold zeros, or tie at a positive
/// maximum; rows of 3 windows (scalar) and of 18 (vectors of eight, then two); 16-bit outputs where
/// the backend has them.
final class ReluCodesTests: OpTestCase {
    func testDecodedCodesGiveTheActivationsBackwardBits() throws {
        for backend in try testBackends() {
            for format in [ActivationStorage.float, .half] where format == .float || backend.halfStorageAlignment != nil
            {
                for shape in [Shape(c: 2, h: 5, w: 7), Shape(c: 3, h: 9, w: 37), Shape(c: 1, h: 1, w: 12)] {
                    let levels = (0..<shape.count).map { _ in Float(Int.random(in: -3...3, using: &generator)) }
                    let dyValues = ReferenceTensor.random(shape.pooled, using: &generator).values.map(Float.init)
                    let gradValues = ReferenceTensor.random(shape, using: &generator).values.map(Float.init)
                    func layerOutput(_ values: [Float]) throws -> Tensor {
                        let tensor = try backend.makeTensor(shape, format: format)
                        try backend.upload(values, to: tensor)
                        return tensor
                    }
                    let activation = try layerOutput(levels.map { max($0, 0) })
                    let decoded = try layerOutput(Array(repeating: -1, count: shape.count))
                    let codes = try backend.makeTensor(.reluCodes(of: shape))
                    /// The backward ops' results reading `a`.
                    func backward(_ a: Tensor, maxPooled: Bool) throws -> [Float] {
                        let dy = try backend.makeTensor(shape.pooled), grad = try backend.makeTensor(shape)
                        try backend.upload(dyValues, to: dy)
                        var results: [Float] = []
                        for mode in maxPooled ? [PoolMode.max] : [.avg] {
                            try backend.reluPool2x2Backward(gradOutput: dy, activation: a, mode: mode, gradInput: grad)
                            results += try backend.download(grad)
                            try backend.pool2x2Backward(
                                gradOutput: dy, input: a, mode: mode, gradInput: grad, accumulate: false)
                            results += try backend.download(grad)
                        }
                        try backend.upload(gradValues, to: grad)
                        try backend.reluBackward(gradOutput: grad, activation: a, gradInput: grad)
                        return results + (try backend.download(grad))
                    }
                    for maxPooled in [false, true] {
                        try backend.encodeReluCodes(activation, maxPooled: maxPooled, codes: codes)
                        try backend.decodeReluCodes(codes, output: decoded)
                        let what = "\(backend.name) \(format) \(shape) max pooled \(maxPooled)"
                        let expected = try backward(activation, maxPooled: maxPooled)
                        let actual = try backward(decoded, maxPooled: maxPooled)
                        let differ = zip(actual, expected).filter { $0.bitPattern != $1.bitPattern }.count
                        XCTAssertEqual(differ, 0, "\(what): results that differ")
                        // Every code word is a normal float in [1, 2).
                        XCTAssertTrue(try backend.download(codes).allSatisfy { $0 >= 1 && $0 < 2 }, what)
                        XCTAssertEqual(
                            try backend.download(decoded).map { $0 > 0 },
                            try backend.download(activation).map { $0 > 0 }, what)
                    }
                }
            }
        }
    }

    func testTheCodesRefuseWrongShapes() throws {
        let activation = try backend.makeTensor(Shape(c: 2, h: 3, w: 4))
        XCTAssertThrowsError(
            try backend.encodeReluCodes(activation, maxPooled: true, codes: try backend.makeTensor(.vector(2))))
        XCTAssertThrowsError(try backend.decodeReluCodes(try backend.makeTensor(.vector(4)), output: activation))
        XCTAssertNoThrow(
            try backend.decodeReluCodes(try backend.makeTensor(.reluCodes(of: activation.shape)), output: activation))
    }
}
