import Foundation
@testable import GPUStyle
import XCTest

/// `BackendOp` is the one list of ops: every op in it is computed by the self-test's table and
/// by the test suite's table (BackendOpsTests), and has its phase and, where it has one, its
/// gradient op. A new op that misses a table fails here.
final class OpCoverageTests: XCTestCase {
    /// Remembers which ops a backend computed.
    private final class OpRecorder: ForwardingBackend {
        private(set) var seen = Set<BackendOp>()

        override func perform<Result>(_ op: BackendOp, _ compute: () throws -> Result) throws -> Result {
            seen.insert(op)
            return try compute()
        }
    }

    private func missing(from seen: Set<BackendOp>) -> [String] {
        BackendOp.allCases.filter { !seen.contains($0) }.map(\.rawValue)
    }

    func testTheSelfTestComputesEveryOp() throws {
        let recorder = OpRecorder(NativeBackend())
        for check in SelfTestTable.randomChecks() { _ = try check.run(recorder, check.inputs, false) }
        XCTAssertEqual(missing(from: recorder.seen), [], "ops the selftest never runs")
    }

    func testTheBackendOpsTableComputesEveryOp() throws {
        let recorder = OpRecorder(NativeBackend(convolution: .direct))
        var generator = SeededGenerator(seed: 1)
        for row in BackendOpsTests.table {
            let first = try XCTUnwrap(row.cases.first, row.name)
            _ = try row.run(recorder, row.inputs(first, &generator), first, false)
        }
        XCTAssertEqual(missing(from: recorder.seen), [], "ops BackendOpsTests never compares")
    }

    /// Each gradient op is the gradient of exactly one op.
    func testGradientsArePaired() {
        let gradients = BackendOp.allCases.compactMap(\.gradient)
        XCTAssertEqual(gradients.count, Set(gradients).count)
        XCTAssertTrue(gradients.allSatisfy { BackendOp.allCases.contains($0) })
    }
}
