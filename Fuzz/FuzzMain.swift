import Foundation

/// libFuzzer's entry point. The target is named by the environment variable
/// STYLIZE_FUZZ_TARGET (one of `FuzzTarget`), which scripts/fuzz.sh sets.
private let target: FuzzTarget = {
    let name = ProcessInfo.processInfo.environment["STYLIZE_FUZZ_TARGET"] ?? ""
    guard let target = FuzzTarget(rawValue: name) else {
        FileHandle.standardError.write(
            Data(
                "STYLIZE_FUZZ_TARGET must be one of \(FuzzTarget.allCases.map(\.rawValue).joined(separator: " "))\n"
                    .utf8))
        exit(2)
    }
    return target
}()

/// One file per fuzzing process (libFuzzer's -jobs run several), on tmpfs where there is one.
private let scratch: String = {
    let folder = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    return "\(folder)/stylize-fuzz-\(getpid())-\(target.rawValue)"
}()

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    var bytes = Array(UnsafeBufferPointer(start: data, count: size))
    target.prepare(&bytes)
    bytes.withUnsafeBytes { target.run($0, scratch: scratch) }
    return 0
}
