import Dispatch
import Foundation

/// Turns SIGINT and SIGTERM into a request to stop after the current iteration, so the run can
/// write the image it has. A second signal exits at once with 130.
final class Interruption {
    private let lock = NSLock()
    private var requested: Int32 = 0
    private var sources: [DispatchSourceSignal] = []

    /// The signal that asked to stop, or 0.
    var signalNumber: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    var isRequested: Bool { signalNumber != 0 }

    /// Starts watching; `onFirst` runs (on a background queue) when the first signal arrives.
    func install(onFirst: @escaping (Int32) -> Void) {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [weak self] in
                guard let self = self else { return }
                self.lock.lock()
                let first = self.requested == 0
                if first { self.requested = number }
                self.lock.unlock()
                if first {
                    onFirst(number)
                } else {
                    FileHandle.standardError.write(Data("\nstopped again: exiting without writing the image\n".utf8))
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    /// Restores the default handlers.
    func uninstall() {
        for source in sources { source.cancel() }
        sources.removeAll()
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }
}
