import CStream
import Foundation
import XCTest

/// The native backend's stores past the caches: the same bits as the Swift loops they replace,
/// at every alignment of the target (partial lines at either end, whole lines between) and every
/// length around a line, and nothing written outside the target.
final class CStreamTests: XCTestCase {
    /// Values with the cases `max(sum, 0)` decides: signed zeros, NaN, infinities, subnormals.
    private static let specials: [Float] = [
        0, -0.0, .nan, .infinity, -.infinity, .leastNonzeroMagnitude, -.leastNonzeroMagnitude, 1, -1, 0.75,
    ]

    private func check(
        _ name: String, bias: Float = 0, _ store: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
        _ expected: (Float) -> Float
    ) {
        let sentinel = Float(bitPattern: 0x7FC0_1234)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 64 * 8, alignment: 64)
        defer { buffer.deallocate() }
        let target = buffer.bindMemory(to: Float.self, capacity: 128)
        let source = (0..<80).map { Self.specials[$0 % Self.specials.count] * Float($0 % 7 + 1) - bias * Float($0 % 2) }
        for offset in 0..<16 {
            for count in 0...(source.count - 16) {
                target.update(repeating: sentinel, count: 128)
                source.withUnsafeBufferPointer { store(target + offset, $0.baseAddress!, count) }
                for k in 0..<128 {
                    let want = k >= offset && k < offset + count ? expected(source[k - offset]) : sentinel
                    XCTAssertEqual(
                        target[k].bitPattern, want.bitPattern,
                        "\(name): offset \(offset), count \(count), float \(k)")
                    if target[k].bitPattern != want.bitPattern { return }
                }
            }
        }
    }

    func testBiasedStoresTheSwiftLoopsBits() {
        for relu in [false, true] {
            let bias: Float = 0.75
            check("biased, relu \(relu)", bias: bias, { cstream_biased($0, $1, $2, bias, relu ? 1 : 0) }) {
                relu ? max($0 + bias, 0) : $0 + bias
            }
        }
    }

    func testCopyStoresTheSameBits() {
        check("copy", { cstream_copy($0, $1, $2) }) { $0 }
    }
}
