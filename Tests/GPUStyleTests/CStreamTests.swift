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

    /// Rows of a gathered block, each to its own line of the target: whole aligned lines, lines off
    /// their alignment, and short rows; every row lands at its stride, nothing between them.
    func testRows16StoresEachRowAtItsStride() {
        let sentinel = Float(bitPattern: 0x7FC0_1234)
        let (rows, stride) = (5, 40)
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: 4 * (rows * stride + 32), alignment: 64)
        defer { buffer.deallocate() }
        let target = buffer.bindMemory(to: Float.self, capacity: rows * stride + 32)
        let source = (0..<(16 * rows)).map { Self.specials[$0 % Self.specials.count] * Float($0 % 5 + 1) }
        for offset in [0, 3, 16] {
            for count in [16, 15, 1] {
                target.update(repeating: sentinel, count: rows * stride + 32)
                source.withUnsafeBufferPointer {
                    cstream_rows16(target + offset, stride, $0.baseAddress!, rows, Int32(count))
                }
                cstream_fence()
                for k in 0..<(rows * stride + 32) {
                    let (row, column) = ((k - offset) / stride, (k - offset) % stride)
                    let inside = k >= offset && row < rows && column < count
                    let want = inside ? source[16 * row + column] : sentinel
                    XCTAssertEqual(
                        target[k].bitPattern, want.bitPattern, "offset \(offset), count \(count), float \(k)")
                    if target[k].bitPattern != want.bitPattern { return }
                }
            }
        }
    }
}
