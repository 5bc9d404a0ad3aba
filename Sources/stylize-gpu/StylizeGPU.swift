import ArgumentParser
import Foundation
import GPUStyle

struct StylizeGPU: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stylize-gpu",
        abstract: "Neural style transfer (Gatys et al.) on any OpenCL device, or on the CPU.",
        subcommands: [
            StylizeCommand.self, DevicesCommand.self, WeightsCommand.self, BenchCommand.self,
            SelfTestCommand.self, TuneCommand.self, BatchCommand.self, VideoCommand.self, FlowCommand.self,
        ],
        defaultSubcommand: StylizeCommand.self
    )
}

/// Prints `error: <line>` on stderr and exits 1.
func exitWithError(_ error: Error) -> Never {
    FileHandle.standardError.write(Data("error: \(singleLine(describe(error)))\n".utf8))
    exit(1)
}

/// Prints a line on stderr (notes, progress that must not mix with JSON on stdout).
func printNote(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Removes the temporary files that stopped processes (SIGKILL) of this host left in `folders`
/// (`TemporaryName`), with a note naming them. Runs before the command writes anything there.
func removeStaleTemporaries(in folders: [String], stemPrefix: String = ".") {
    let removed = TemporaryName.removeStale(inFolders: folders, stemPrefix: stemPrefix)
    guard !removed.isEmpty else { return }
    printNote(
        "removed \(removed.count) temporary file\(removed.count == 1 ? "" : "s") left by a stopped stylize-gpu: "
            + removed.prefix(3).joined(separator: ", ") + (removed.count > 3 ? ", …" : ""))
}

/// Prints `warning: <line>` on stderr: something went wrong and the work goes on.
func printWarning(_ text: String) {
    printNote("warning: " + singleLine(text))
}

/// `stylize-gpu SUBCOMMAND --help` for the subcommand the arguments name (run by default).
func helpCommand(_ arguments: [String] = Array(CommandLine.arguments.dropFirst())) -> String {
    let names = StylizeGPU.configuration.subcommands.compactMap { $0.configuration.commandName }
    let name = arguments.first.flatMap { names.contains($0) ? $0 : nil } ?? "run"
    return "'stylize-gpu \(name) --help'"
}

/// Swift turns bytes that are not UTF-8 into U+FFFD, so such a file name would name another
/// file: refuse it, showing the bytes.
func refuseArgumentsThatAreNotUTF8() throws {
    for index in 1..<Int(CommandLine.argc) {
        guard let argument = CommandLine.unsafeArgv[index], String(validatingCString: argument) == nil else { continue }
        let bytes = UnsafeBufferPointer(
            start: UnsafeRawPointer(argument).assumingMemoryBound(to: UInt8.self),
            count: strlen(argument))
        let shown = bytes.map { $0 < 0x80 ? String(UnicodeScalar($0)) : String(format: "\\x%02X", $0) }.joined()
        throw StyleError(
            "argument \(index) (\(shown)) is not valid UTF-8; rename the file to a UTF-8 name "
                + "(or give a link to it that has one)")
    }
}
