import Foundation

/// Refuses an output path before any work is done: an output that is one of the inputs (after
/// resolving relative paths, `..`, symbolic links and hard links), an output that is a folder,
/// and a destination folder that does not exist or cannot be written.
public func checkOutputPath(_ output: String, inputs: [String]) throws {
    if output.hasSuffix("/") || [".", ".."].contains(URL(fileURLWithPath: output).lastPathComponent) {
        throw StyleError(
            "\(output): names a folder; give a file name such as \(output.hasSuffix("/") ? output : output + "/")out.png"
        )
    }
    let outputURL = resolvedURL(output)
    let folder = outputURL.deletingLastPathComponent().path
    for input in inputs where sameFile(outputURL, resolvedURL(input)) {
        throw StyleError("\(output): the output would overwrite the input \(input); choose another output name")
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: outputURL.path, isDirectory: &isFolder), isFolder.boolValue {
        throw StyleError("\(output): is a folder; give a file name such as \(output)/out.png")
    }
    guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), isFolder.boolValue else {
        throw StyleError("\(output): the folder \(folder) does not exist; create it first")
    }
    guard access(folder, W_OK) == 0 else {
        throw StyleError("\(output): the folder \(folder) is not writable")
    }
}

/// Whether two paths name the same file (or would, once written).
public func samePath(_ a: String, _ b: String) -> Bool {
    sameFile(resolvedURL(a), resolvedURL(b))
}

/// Refuses two outputs that name one file (the second write would replace the first), naming
/// both options.
public func refuseSharedPaths(_ outputs: [(option: String, path: String)]) throws {
    for (index, first) in outputs.enumerated() {
        for second in outputs[(index + 1)...] where samePath(first.path, second.path) {
            throw StyleError("\(first.option) and \(second.option) both name \(second.path); give each its own file")
        }
    }
}

/// Refuses, before it is opened, an input that is not a regular file: a missing path, a folder,
/// or a FIFO, device or socket (opening a FIFO would wait forever for a writer).
/// Errors start with the path, after `role` ("weights file") where one is given.
public func requireRegularFile(_ path: String, role: String? = nil) throws {
    let named = role.map { "\($0) \(path)" } ?? path
    var info = stat()
    guard stat(path, &info) == 0 else {
        let reason = errno == ENOENT ? "no such file" : String(cString: strerror(errno))
        throw StyleError("\(named): \(reason)")
    }
    switch info.st_mode & S_IFMT {
    case S_IFREG: return
    case S_IFDIR: throw StyleError("\(named): is a folder, not a file")
    default: throw StyleError("\(named): is not a regular file (a FIFO, device or socket); give a file")
    }
}

/// Absolute, standardised, with symbolic links resolved (for a file that does not exist yet,
/// those of its folder).
private func resolvedURL(_ path: String) -> URL {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let folder = url.deletingLastPathComponent().resolvingSymlinksInPath()
    let full = folder.appendingPathComponent(url.lastPathComponent)
    return FileManager.default.fileExists(atPath: full.path) ? full.resolvingSymlinksInPath() : full
}

/// Same path, or the same file reached another way (hard link, case-insensitive file system).
private func sameFile(_ a: URL, _ b: URL) -> Bool {
    if a.path == b.path {
        return true
    }
    var statA = stat()
    var statB = stat()
    guard stat(a.path, &statA) == 0, stat(b.path, &statB) == 0 else {
        return false
    }
    return statA.st_dev == statB.st_dev && statA.st_ino == statB.st_ino
}

/// A file written under a temporary name in its destination folder and renamed into place
/// only when complete, so readers never see a partial file and a failure leaves nothing behind.
struct AtomicOutput {
    let destination: String
    /// Where the content is written until `commit()`.
    let temporaryPath: String

    init(destination: String) {
        self.destination = destination
        let url = URL(fileURLWithPath: destination)
        let hidden = ".\(url.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        temporaryPath = url.deletingLastPathComponent().appendingPathComponent(hidden).path
    }

    /// Moves the finished temporary file onto the destination (one rename, atomic on POSIX).
    func commit() throws {
        #if DEBUG
            if AtomicOutput.testDiskIsFull(destination) {
                discard()
                throw StyleError("\(destination): could not write the file: \(String(cString: strerror(ENOSPC)))")
            }
        #endif
        guard rename(temporaryPath, destination) == 0 else {
            let reason = String(cString: strerror(errno))
            discard()
            throw StyleError("\(destination): could not move the finished file into place: \(reason)")
        }
    }

    #if DEBUG
        /// Tests' stand-in for a full disk where they cannot mount a small one (debug builds only):
        /// writes below FOLDER fail while FOLDER.full exists.
        static func testDiskIsFull(_ destination: String) -> Bool {
            guard let disk = ProcessInfo.processInfo.environment["STYLIZE_GPU_TEST_DISK_FULL"] else { return false }
            return destination.hasPrefix(disk + "/") && FileManager.default.fileExists(atPath: disk + ".full")
        }
    #endif

    /// Removes the temporary file, if any.
    func discard() {
        unlink(temporaryPath)
    }

    /// Runs `write` on the temporary path, then commits; on any error removes the temporary
    /// file and rethrows.
    static func write(to destination: String, _ write: (String) throws -> Void) throws {
        let output = AtomicOutput(destination: destination)
        do {
            try write(output.temporaryPath)
        } catch {
            output.discard()
            throw error
        }
        try output.commit()
    }
}
