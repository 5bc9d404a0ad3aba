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

/// The one-line text of any error, for printing.
public func describe(_ error: Error) -> String {
    if let cocoa = error as? CocoaError {
        return cocoa.localizedDescription
    }
    return String(describing: error)
}
