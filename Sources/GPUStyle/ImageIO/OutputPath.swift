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
        temporaryPath =
            url.deletingLastPathComponent().appendingPathComponent(
                TemporaryName.make("." + url.lastPathComponent)
            ).path
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

/// Names of the temporary files and folders a process writes: `<stem>.<pid>.<random>.<host>.tmp`,
/// host being the first 8 hex digits of the SHA-256 of this machine's name. A process killed with
/// SIGKILL leaves them behind; the next run's `removeStale` takes away those of this host whose
/// process is gone, so two processes on one folder (or on a shared file system, from two hosts)
/// never remove each other's. Like `BatchLock`, it takes a pid that does not exist on this host
/// to mean the writer is gone.
public enum TemporaryName {
    /// Stems of the folders made in the system's temporary folder: a video's decoded frames, an
    /// external tool's output files.
    public static let decodedVideoStem = "stylize-gpu-video"
    public static let toolStem = "stylize-gpu-tool"

    /// This machine's name (`BatchLock` records it too).
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(cString: buffer)
    }

    /// This host's tag in the names.
    static let host = String(SHA256.hex(of: Array(hostName.utf8)).prefix(8))

    /// A new name for a temporary of `stem` (a file's hidden name, or a folder's prefix).
    public static func make(_ stem: String) -> String {
        "\(stem).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).\(host).tmp"
    }

    /// The writer's pid when `name` is one of this host's temporaries with a stem starting with
    /// `stemPrefix`, else nil (another host's, or not ours).
    static func writer(of name: String, stemPrefix: String) -> Int32? {
        guard name.hasPrefix(stemPrefix), name.hasSuffix(".tmp") else { return nil }
        let parts = name.dropLast(4).split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 4, parts[parts.count - 1] == host, UInt32(parts[parts.count - 2]) != nil,
            let pid = Int32(parts[parts.count - 3]), pid > 0, parts.dropLast(3).joined(separator: ".").count > 1
        else { return nil }
        return pid
    }

    /// Removes this host's temporaries in `folder` (stems starting with `stemPrefix`) whose
    /// writer is gone, files or folders, and returns their names. Called before this process
    /// writes any temporary there, so one with this process's own pid was left by an earlier
    /// process that had the same pid (a restarted container).
    @discardableResult
    public static func removeStale(in folder: String, stemPrefix: String = ".") -> [String] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        return names.sorted().filter { name in
            guard let pid = writer(of: name, stemPrefix: stemPrefix),
                pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH)
            else { return false }
            return (try? FileManager.default.removeItem(atPath: folder + "/" + name)) != nil
        }
    }

    /// `removeStale` in each folder once; the paths removed.
    public static func removeStale(inFolders folders: [String], stemPrefix: String = ".") -> [String] {
        var seen = Set<String>()
        return folders.map { URL(fileURLWithPath: $0).standardizedFileURL.path }.filter { seen.insert($0).inserted }
            .flatMap { folder in removeStale(in: folder, stemPrefix: stemPrefix).map { folder + "/" + $0 } }
    }
}
