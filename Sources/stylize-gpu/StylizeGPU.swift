import ArgumentParser
import Foundation
import GPUStyle

struct StylizeGPU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylize-gpu",
        abstract: "Neural style transfer (Gatys et al.) on any OpenCL device, or on the CPU.",
        subcommands: [StylizeCommand.self, DevicesCommand.self, WeightsCommand.self, BenchCommand.self,
                      SelfTestCommand.self, TuneCommand.self],
        defaultSubcommand: StylizeCommand.self
    )
}

/// Prints `error: <line>` on stderr and exits 1.
func exitWithError(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(describe(error))\n".utf8))
    exit(1)
}

/// Prints a line on stderr (notes, progress that must not mix with JSON on stdout).
func printNote(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}
