import CBLAS
import Foundation
import XCTest
@testable import GPUStyle

final class BlasKernelChoiceTests: XCTestCase {
    func testUnknownAVX512CPUGetsAVX512Kernels() {
        XCTAssertEqual(BlasKernelChoice.correction(detected: "Prescott", vectorLevel: 2, userChoice: nil), "SkylakeX")
        XCTAssertEqual(BlasKernelChoice.correction(detected: "Haswell", vectorLevel: 2, userChoice: nil), "SkylakeX")
    }

    func testUnknownAVX2CPUGetsAVX2Kernels() {
        XCTAssertEqual(BlasKernelChoice.correction(detected: "Nehalem", vectorLevel: 1, userChoice: nil), "Haswell")
    }

    func testGoodChoicesAndUserChoicesAreKept() {
        XCTAssertNil(BlasKernelChoice.correction(detected: "SkylakeX", vectorLevel: 2, userChoice: nil))
        XCTAssertNil(BlasKernelChoice.correction(detected: "Zen", vectorLevel: 1, userChoice: nil))
        XCTAssertNil(BlasKernelChoice.correction(detected: "Prescott", vectorLevel: 0, userChoice: nil))
        XCTAssertNil(BlasKernelChoice.correction(detected: "Prescott", vectorLevel: 2, userChoice: "Prescott"))
    }

    func testSummarySaysWhenTheEnvironmentChoseTheKernels() {
        XCTAssertEqual(BlasKernelChoice.summary(core: "Cooperlake", userChoice: nil), "OpenBLAS Cooperlake")
        XCTAssertEqual(
            BlasKernelChoice.summary(core: "Haswell", userChoice: "Haswell"), "OpenBLAS Haswell (OPENBLAS_CORETYPE)")
        XCTAssertEqual(BlasKernelChoice.summary(core: nil, userChoice: nil), "BLAS")
    }

    /// On this machine's BLAS: after a native backend exists, OpenBLAS runs the kernels the CPU supports.
    func testNativeBackendLeavesNoSlowerKernelsThanTheCPUSupports() throws {
        _ = NativeBackend()
        guard let name = stylize_openblas_corename(),
            ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil
        else {
            throw XCTSkip("BLAS without kernel switching, or OPENBLAS_CORETYPE set by the user")
        }
        let core = String(cString: name)
        XCTAssertNil(
            BlasKernelChoice.correction(detected: core, vectorLevel: Int(stylize_cpu_vector_level()), userChoice: nil),
            "OpenBLAS still runs \(core)")
    }
}
