import ArgumentParser
import Foundation
import GPUStyle

/// Runs the command line. Errors of the program's own (bad input, device faults) end with one
/// `error:` line and exit code 1; argument errors keep swift-argument-parser's usage text.
do {
    var command = try StylizeGPU.parseAsRoot()
    try command.run()
} catch let error as StyleError {
    exitWithError(error)
} catch let error as CLError {
    exitWithError(error)
} catch {
    StylizeGPU.exit(withError: error)
}
