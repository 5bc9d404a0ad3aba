import Foundation
@testable import GPUStyle
import XCTest

/// `BackendOp` is the one list of ops: every op in it is computed by `OpTable`'s rows (which the
/// self-test and the test suite both run), every backward op is checked by a grad row, and each
/// has its phase and, where it has one, its gradient op. A new op that misses the table fails here.
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
        for check in SelfTestTable.randomChecks() { _ = check.evaluate(on: recorder, reference: NativeBackend()) }
        XCTAssertEqual(missing(from: recorder.seen), [], "ops the table never runs")
    }

    /// Every gradient op, and every op of the backward phase, runs on the device in the grad mode.
    func testTheGradModeChecksEveryBackwardOp() {
        let recorder = OpRecorder(NativeBackend())
        for check in SelfTestTable.gradChecks() { _ = check.evaluate(on: recorder, reference: NativeBackend()) }
        let gradients = Set(BackendOp.allCases.compactMap(\.gradient))
        let backward = BackendOp.allCases.filter { $0.phase == .backward || gradients.contains($0) }
        XCTAssertFalse(backward.isEmpty)
        XCTAssertEqual(
            backward.filter { !recorder.seen.contains($0) }.map(\.rawValue), [], "backward ops without a grad row")
    }

    /// The self-test runs every row of the table in both modes, on fewer shapes than the test suite.
    func testTheSelfTestRunsEveryRow() {
        for (selfTest, suite, rows) in [
            (SelfTestTable.randomChecks(), OpTable.checks(allCases: true, seed: 1), OpTable.rows.map(\.name)),
            (SelfTestTable.gradChecks(), OpTable.gradChecks(allCases: true, seed: 1), OpTable.gradRows.map(\.name)),
        ] {
            XCTAssertEqual(Set(selfTest.map(\.op)), Set(rows))
            XCTAssertEqual(Set(suite.map(\.op)), Set(rows))
            XCTAssertEqual(Set(rows).count, rows.count, "row names are unique")
            XCTAssertLessThan(selfTest.count, suite.count)
        }
    }

    /// Each gradient op is the gradient of exactly one op.
    func testGradientsArePaired() {
        let gradients = BackendOp.allCases.compactMap(\.gradient)
        XCTAssertEqual(gradients.count, Set(gradients).count)
        XCTAssertTrue(gradients.allSatisfy { BackendOp.allCases.contains($0) })
    }
}
