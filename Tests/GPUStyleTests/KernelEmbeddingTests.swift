import Foundation
import Kernels
import XCTest

final class KernelEmbeddingTests: XCTestCase {
    /// The binary's kernel text is Kernels.cl, byte for byte (the plugin embeds it, never a copy).
    func testEmbeddedSourceEqualsKernelsFile() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent()
        let file = try String(contentsOf: root.appendingPathComponent("Kernels.cl"), encoding: .utf8)
        XCTAssertEqual(KernelLibrary.source, file)
        XCTAssertTrue(KernelLibrary.source.contains("__kernel"))
    }
}
