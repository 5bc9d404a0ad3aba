import Foundation
@testable import GPUStyle
import XCTest

/// `BackendOp` is the one list of ops: every op in it is computed by `OpTable`'s rows (which the
/// self-test and the test suite both run), and has its phase and, where it has one, its
/// gradient op. A new op that misses the table fails here.
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

    func testTheOpTableComputesEveryOp() throws {
        let recorder = OpRecorder(NativeBackend())
        for check in SelfTestTable.randomChecks() { _ = try check.run(recorder, check.inputs, false) }
        XCTAssertEqual(missing(from: recorder.seen), [], "ops the table never runs")
    }

    /// The self-test runs every row of the table, on fewer shapes than the test suite.
    func testTheSelfTestRunsEveryRow() {
        let selfTest = SelfTestTable.randomChecks(), suite = OpTable.checks(allCases: true, seed: 1)
        XCTAssertEqual(Set(selfTest.map(\.op)), Set(OpTable.rows.map(\.name)))
        XCTAssertEqual(Set(suite.map(\.op)), Set(OpTable.rows.map(\.name)))
        XCTAssertLessThan(selfTest.count, suite.count)
    }

    /// Each gradient op is the gradient of exactly one op.
    func testGradientsArePaired() {
        let gradients = BackendOp.allCases.compactMap(\.gradient)
        XCTAssertEqual(gradients.count, Set(gradients).count)
        XCTAssertTrue(gradients.allSatisfy { BackendOp.allCases.contains($0) })
    }
}
