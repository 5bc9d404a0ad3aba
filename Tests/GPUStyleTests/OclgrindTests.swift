import Foundation
@testable import GPUStyle
import XCTest

/// Every kernel on a simulated device: `stylize-gpu selftest` under Oclgrind, which reports
/// out-of-bounds accesses, data races between work-items (`--data-races`) and invalid OpenCL API
/// use (`--check-api`), with each named set of kernel options (`--kernel-options`): the CPU's
/// defaults, the GPU's (Oclgrind's device counts as a GPU, so those are its own) and the tuner's
/// smallest and largest values, so every kernel variant runs at least once. Zero reports allowed.
/// The self-test's random checks only: the real weights' layers run no kernel or variant the random
/// checks do not, at ten times their cost on the simulator. What is not checked: docs/DESIGN.md, "Oclgrind".
final class OclgrindTests: CommandLineTestCase {
    func testSelfTestWithTheCPUDefaults() throws { try checkUnderOclgrind(.cpu) }
    /// With the tiled multiply's wide variant from 64 output channels (the default is off): the
    /// self-test's shapes then run both multiply kernels.
    func testSelfTestWithTheGPUDefaults() throws { try checkUnderOclgrind(.gpu, defines: ["WGEMM_WIDE=64"]) }
    func testSelfTestWithTheTunersSmallestValues() throws { try checkUnderOclgrind(.min) }
    func testSelfTestWithTheTunersLargestValues() throws { try checkUnderOclgrind(.max) }
    /// The F(4×4,3×3) transforms, which the tuner can select but no set above runs (the self-test's
    /// maps are below F(4×4)'s threshold, `max` takes F(6×6)); with 8 output channels a block, as
    /// AVX-512 CPUs run them, so that the weight transform stores pairs of rows as whole lines
    /// (Oclgrind's device prefers scalars, so the `cpu` set has 4).
    func testSelfTestWithWinogradF4() throws {
        try checkUnderOclgrind(.cpu, defines: ["WINO_TILE=4", "WINO_COB=8", "WINO_WEIGHT_ROWS=8"])
    }

    /// Oclgrind's LLVM has no `llvm.prefetch` (the CPU prefetch options' `__builtin_prefetch`): a
    /// kernel calling it cannot be created. The hint goes; the code around it stays.
    static let buildOptions = "-D__builtin_prefetch(...)=((void)0)"

    /// Runs both modes of the self-test under Oclgrind with `preset` and `defines` over it; fails
    /// with Oclgrind's reports.
    private func checkUnderOclgrind(_ preset: ProgramOptions.Preset, defines: [String] = []) throws {
        guard let oclgrind = ExternalTool.find("oclgrind", environment: ProcessInfo.processInfo.environment) else {
            throw XCTSkip("oclgrind is not installed (scripts/install-deps.sh installs it)")
        }
        let log = path("oclgrind.log")
        let result = try run(
            ["selftest", "--device", "0", "--kernel-options", preset.rawValue] + defines.flatMap { ["--define", $0] },
            // No weights in an empty cache folder; a crashed process exits instead of waiting on
            // Swift's backtracer.
            environment: ["XDG_CACHE_HOME": folder, "SWIFT_BACKTRACE": "enable=no"],
            prefix: [oclgrind, "--check-api", "--data-races", "--build-options", Self.buildOptions, "--log", log],
            timeout: 1200)
        // Kernel faults go to LOG; invalid API calls and Oclgrind's own failures to stderr, where
        // the self-test writes nothing.
        let reports = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "") + result.stderr
        XCTAssertEqual(
            reports.trimmingCharacters(in: .whitespacesAndNewlines), "",
            "Oclgrind reported with --kernel-options \(preset.rawValue):\n\(reports.prefix(8000))")
        XCTAssertTrue(result.stdout.hasPrefix("selftest on Oclgrind"), result.stdout)
        XCTAssertEqual(result.status, 0, String(result.stdout.suffix(4000)))
    }
}
