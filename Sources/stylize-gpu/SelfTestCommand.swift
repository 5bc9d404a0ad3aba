import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu selftest`: proves a device computes every op as the native path does.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every op on a device against the native path (random data and the weights' first layers).",
        discussion: """
            Prints one line per op and shape: the largest error relative to the sum of the magnitudes of \
            the terms, and the bound two float32 computations can differ by (2·γ(K), K terms per output). \
            Exits with 1 when any check fails. Takes a few seconds.
            """
    )

    @OptionGroup var deviceOptions: DeviceOptions
    /// For the conv1_1/conv1_2 checks, which are skipped when there is no weights file.
    @OptionGroup var weightsOptions: WeightsOptions
    @OptionGroup var kernelDefines: KernelDefineOptions

    func run() throws {
        let backend: Backend
        do {
            backend = try BackendFactory.make(
                try DeviceSelector(deviceOptions.device), overrides: try kernelDefines.overrides())
        } catch {
            exitWithError(error)
        }
        print("selftest on \(backend.name) against native")
        let cached = WeightsCache.defaultWeightsPath()
        let weightsPath = weightsOptions.weights ?? (FileManager.default.fileExists(atPath: cached) ? cached : nil)
        let report: SelfTest.Report
        do {
            report = try SelfTest.run(
                on: backend, weightsPath: weightsPath, preprocessing: weightsOptions.preprocessing.override
            ) { print($0.line) }
        } catch {
            exitWithError(error)
        }
        report.notes.forEach { print("note: \($0)") }
        let failures = report.failures.count
        print(
            failures == 0
                ? "selftest passed: \(report.results.count) checks"
                : "selftest FAILED: \(failures) of \(report.results.count) checks")
        if failures > 0 { throw ExitCode(1) }
    }
}
