import Foundation

/// An error for the user: one line that names the problem and, where there is one, what to do.
/// Every error thrown by GPUStyle is `CustomStringConvertible` with such a line; the command
/// line prints it as `error: <description>` and exits non-zero.
public struct StyleError: Error, CustomStringConvertible, Equatable {
    public var message: String

    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

/// The one-line text of any error, for printing. Foundation's file errors are put in words
/// (the file and the system's reason), since their own text on Linux is only a domain and a code.
public func describe(_ error: Error) -> String {
    if let cocoa = error as? CocoaError {
        let file = cocoa.filePath ?? cocoa.url?.path
        let reason =
            (cocoa.underlying as? POSIXError).map { String(cString: strerror($0.code.rawValue)) }
            ?? cocoaReasons[cocoa.code] ?? cocoa.localizedDescription
        return file.map { "\($0): \(reason)" } ?? reason
    }
    if let posix = error as? POSIXError {
        return String(cString: strerror(posix.code.rawValue))
    }
    return String(describing: error)
}

private let cocoaReasons: [CocoaError.Code: String] = [
    .fileNoSuchFile: "no such file or folder", .fileReadNoSuchFile: "no such file or folder",
    .fileReadNoPermission: "permission denied", .fileWriteNoPermission: "permission denied",
    .fileReadCorruptFile: "the file is corrupt", .fileReadTooLarge: "the file is too large to read",
    .fileWriteOutOfSpace: "no space left on the device", .fileWriteVolumeReadOnly: "the file system is read-only",
    .fileWriteFileExists: "a file of that name exists",
    .fileReadUnknown: "the file could not be read (is it a folder?)",
    .fileWriteUnknown: "the file could not be written (is a part of the path a file?)",
]

/// `text` on one line: control characters (a newline in a file name) are written as escapes,
/// so an error or a warning is always exactly one line.
public func singleLine(_ text: String) -> String {
    var result = ""
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case _ where scalar.properties.generalCategory == .control:
            result += "\\u{\(String(scalar.value, radix: 16))}"
        default: result.unicodeScalars.append(scalar)
        }
    }
    return result
}

/// Whether an error comes from a full disk or an exhausted quota (ENOSPC, EDQUOT). Errors reach
/// the commands as lines, so this looks for the system's reason (`strerror`, this process's own
/// text) or `describe`'s words for Foundation's out-of-space error.
public func isOutOfSpace(_ error: Error) -> Bool {
    let text = describe(error)
    let reasons = [ENOSPC, EDQUOT].map { String(cString: strerror($0)) } + ["no space left on the device"]
    return reasons.contains { text.contains($0) }
}
