import Foundation

/// Where a batch keeps what it knows about a job, in the output folder's `.stylize-gpu/`
/// (`OUT` is the output relative to the folder): `OUT.json` the record of a finished job,
/// `OUT.lock` the lock of the worker running it, `OUT.ckpt` its checkpoint while it runs, and
/// `OUT.partial.EXT` the image while it is written (renamed to the output when the job ends).
public struct BatchJobFiles: Sendable {
    public static let stateFolderName = ".stylize-gpu"

    /// The output folder as given (`-o`): the one folder that may be a symbolic link.
    public let outputFolder: String
    public let output: String
    public let record: String
    public let lock: String
    public let checkpoint: String
    public let partialImage: String

    public init(outputFolder: String, relativeOutput: String) {
        self.outputFolder = outputFolder
        let folder = URL(fileURLWithPath: outputFolder)
        output = folder.appendingPathComponent(relativeOutput).path
        let state = folder.appendingPathComponent(BatchJobFiles.stateFolderName).appendingPathComponent(
            relativeOutput)
        record = state.path + ".json"
        lock = state.path + ".lock"
        checkpoint = state.path + ".ckpt"
        let ext = state.pathExtension
        partialImage = state.deletingPathExtension().path + ".partial." + ext
    }

    /// Creates the folders the output and its state files go into, refusing one that a symbolic
    /// link below the output folder (`sub -> /elsewhere`, `.stylize-gpu -> /elsewhere`) would put
    /// outside it: checked before creating (so nothing is made outside) and after.
    public func makeFolders() throws {
        for path in [output, record] {
            let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
            try BatchJobFiles.refuseLinksOut(folder, below: outputFolder)
            do {
                try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            } catch {
                throw StyleError("cannot create the folder \(folder): \(describe(error))")
            }
            try BatchJobFiles.refuseLinksOut(folder, below: outputFolder)
        }
    }

    /// Refuses `folder` when its longest existing part below `outputFolder` resolves outside it
    /// (through a symbolic link); links at or above `outputFolder` are the user's.
    public static func refuseLinksOut(_ folder: String, below outputFolder: String) throws {
        let top = URL(fileURLWithPath: outputFolder).standardizedFileURL
        var existing = URL(fileURLWithPath: folder).standardizedFileURL
        while !FileManager.default.fileExists(atPath: existing.path), existing.path.count > top.path.count {
            existing.deleteLastPathComponent()
        }
        // Nothing below the output folder exists yet: only links the user gave are on the way.
        guard existing.path.count > top.path.count else { return }
        let root = top.resolvingSymlinksInPath().path
        let resolved = existing.resolvingSymlinksInPath().path
        guard resolved == root || resolved.hasPrefix(root == "/" ? "/" : root + "/") else {
            throw StyleError(
                "\(existing.path) leads outside the output folder \(outputFolder) (to \(resolved), through a "
                    + "symbolic link); remove the link or choose another output folder")
        }
    }
}
