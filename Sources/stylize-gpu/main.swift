import ArgumentParser
import Foundation
import GPUStyle

/// Runs the command line. Every failure, the argument parser's included, ends with one
/// `error:` line and exit code 1; Ctrl-C and SIGTERM exit 130; `--help` prints the help and exits 0.
Interruption.shared.install()
do {
    try refuseArgumentsThatAreNotUTF8()
    var command = try StylizeGPU.parseAsRoot()
    try command.run()
} catch let error as StyleError {
    exitWithError(error)
} catch let error as CLError {
    exitWithError(error)
} catch let error as ExitCode {
    exit(error.rawValue)
} catch {
    if StylizeGPU.exitCode(for: error) == .success {
        print(StylizeGPU.fullMessage(for: error))
        exit(0)
    }
    // A check of our own in a command's validate() reaches here wrapped by the parser.
    if let own = ownError(in: error) { exitWithError(own) }
    exitWithError(StyleError(StylizeGPU.message(for: error) + "; \(helpCommand()) lists the options"))
}

/// The StyleError or CLError inside an error the argument parser wrapped, if any.
func ownError(in value: Any, depth: Int = 0) -> Error? {
    if let error = value as? StyleError { return error }
    if let error = value as? CLError { return error }
    guard depth < 4 else { return nil }
    for child in Mirror(reflecting: value).children {
        if let found = ownError(in: child.value, depth: depth + 1) { return found }
    }
    return nil
}
