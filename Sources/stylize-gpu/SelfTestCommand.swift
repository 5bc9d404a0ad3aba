import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu selftest`: proves a device computes every op as the native path does.
struct SelfTestCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "selftest",
        abstract: "Check every op on a device against the native path, and every gradient against finite differences.",
        discussion: """
            Prints one line per op and shape: the largest error relative to the sum of the magnitudes of \
            the terms, and the bound: 2·γ(K) for two float32 computations of K terms per output (eval \
            mode: the device against the native path, on random data and the weights' first layers), \
            γ(K) for one against the exact value (grad mode: each backward op against central \
            differences of the float64 reference, that error deducted). A convolution that a backend \
            runs by Winograd is held to that algorithm's bound: its K, and its transforms' magnitudes \
            in place of the terms'. Exits with 1 when any check fails. Takes a few seconds.
            """
    )

    @OptionGroup var deviceOptions: DeviceOptions
    /// For the conv1_1/conv1_2 checks, which are skipped when there is no weights file.
    @OptionGroup var weightsOptions: WeightsOptions
    @Option(
        help: ArgumentHelp(
            "Check OpenCL devices with a named set of kernel options instead of the device's tuning or "
                + "defaults: cpu or gpu (the defaults a CPU or a GPU with the device's limits gets), min or max "
                + "(every option `stylize-gpu tune` varies on the device at its smallest or largest value); "
                + "--define applies on top.",
            valueName: "cpu|gpu|min|max"))
    var kernelOptions: ProgramOptions.Preset?
    @OptionGroup var kernelDefines: KernelDefineOptions
    @Option(help: "Which checks: eval (ops against the native path), grad (gradients), or all.")
    var mode: SelfTest.Mode = .all

    func run() throws {
        let backend: Backend
        do {
            backend = try BackendFactory.make(
                try DeviceSelector(deviceOptions.device), preset: kernelOptions,
                overrides: try kernelDefines.overrides())
        } catch {
            exitWithError(error)
        }
        print(
            "selftest on \(backend.name)\(kernelOptions.map { " (kernel options: \($0.rawValue))" } ?? "") against native"
        )
        let cached = WeightsCache.defaultWeightsPath()
        let weightsPath = weightsOptions.weights ?? (FileManager.default.fileExists(atPath: cached) ? cached : nil)
        let report: SelfTest.Report
        do {
            report = try SelfTest.run(
                on: backend, weightsPath: weightsPath, preprocessing: weightsOptions.preprocessing.override, mode: mode
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

extension SelfTest.Mode: ExpressibleByArgument {}
extension ProgramOptions.Preset: ExpressibleByArgument {}
