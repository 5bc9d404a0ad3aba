import ArgumentParser
import GPUStyle

// Options several commands share, declared once (swift-argument-parser's @OptionGroup).

/// `--device`: run, selftest, tune.
struct DeviceOptions: ParsableArguments {
    @Option(help: "auto, native, gpu, cpu, an id from `stylize-gpu devices`, or part of a device name.")
    var device = "auto"
}

/// `--weights` and `--preprocessing`: run, bench, selftest.
struct WeightsOptions: ParsableArguments {
    @Option(help: "Weights file: VGG19 or VGG16 (default: the cached file `stylize-gpu weights fetch` stores).")
    var weights: String?

    @Option(
        help: ArgumentHelp(
            "The input the weights expect: caffe (BGR 0–255 minus the mean), torch (RGB 0–1, mean/std) or auto "
                + "(from the file: checksum, values, statistics; `stylize-gpu weights info` shows which).",
            valueName: "auto|caffe|torch"))
    var preprocessing: PreprocessingChoice = .auto
}

/// `--preprocessing`'s values.
enum PreprocessingChoice: String, CaseIterable, ExpressibleByArgument {
    case auto, caffe, torch

    /// The override, or nil for detection.
    var override: Preprocessing? { Preprocessing(rawValue: rawValue) }
}

/// `--define NAME=VALUE` (repeatable): bench, bench ops, selftest.
struct KernelDefineOptions: ParsableArguments {
    @Option(
        name: .customLong("define"),
        help: ArgumentHelp(
            "Override a kernel option on OpenCL devices (over the device's tuning, if any), "
                + "NAME=VALUE (repeatable), e.g. WINO_GEMM=1."))
    var defines: [String] = []

    func validate() throws {
        _ = try overrides()
    }

    /// The options as kernel option overrides.
    func overrides() throws -> [String: Int] {
        try parseKernelDefines(defines)
    }
}

/// The `--define NAME=VALUE` options of the bench commands, as kernel option overrides.
func parseKernelDefines(_ texts: [String]) throws -> [String: Int] {
    var overrides: [String: Int] = [:]
    for text in texts {
        let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
        guard parts.count == 2, !parts[0].isEmpty, let value = Int(parts[1]) else {
            throw StyleError("--define \(text): expected NAME=INTEGER, e.g. CONV_PXB=4")
        }
        guard KernelOption.named(parts[0]) != nil else {
            throw StyleError(
                "--define \(text): unknown kernel option \(parts[0]); known: "
                    + KernelOption.all.map(\.name).sorted().joined(separator: ", "))
        }
        overrides[parts[0]] = value
    }
    return overrides
}
