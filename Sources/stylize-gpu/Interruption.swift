import Dispatch
import Foundation

/// SIGINT and SIGTERM for the whole process, watched from its first line on (a signal during
/// start-up must not kill the process with 143). Until a command defers stops, a signal exits
/// at once with 130, since there is nothing to save; while deferred, the first asks the command
/// to stop after its current step, and a second (or two arriving together) exits at once with 130.
final class Interruption {
    static let shared = Interruption()

    private let lock = NSLock()
    private var requested: Int32 = 0
    private var onFirst: ((Int32) -> Void)?
    private var sources: [DispatchSourceSignal] = []

    /// The signal that asked to stop, or 0.
    var signalNumber: Int32 {
        lock.lock()
        defer { lock.unlock() }
        return requested
    }

    var isRequested: Bool { signalNumber != 0 }

    /// Starts watching both signals (once, at start-up).
    func install() {
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            // The process-wide instance and its sources live until exit, so the handler may hold them.
            source.setEventHandler { [self, source] in
                received(number, count: source.data)
            }
            source.resume()
            sources.append(source)
        }
    }

    /// From now on the first signal calls `onFirst` (on a background queue) and sets `isRequested`.
    func deferStops(onFirst: @escaping (Int32) -> Void) {
        lock.lock()
        self.onFirst = onFirst
        lock.unlock()
    }

    /// `deferStops` with one note on the first signal: "interrupted: <what>" ("terminated: …").
    func deferStops(saying what: String) {
        deferStops { signal in
            printNote("\n\(signal == SIGINT ? "interrupted" : "terminated"): \(what)")
        }
    }

    /// Back to exiting at once on a signal.
    func endDeferral() {
        lock.lock()
        onFirst = nil
        lock.unlock()
    }

    private func received(_ number: Int32, count: UInt) {
        lock.lock()
        let handler = onFirst
        let first = requested == 0
        if first { requested = number }
        lock.unlock()
        guard let handler else {
            FileHandle.standardError.write(Data("\n\(number == SIGINT ? "interrupted" : "terminated")\n".utf8))
            leave()
        }
        if first && count == 1 {
            handler(number)
        } else {
            FileHandle.standardError.write(Data("\nstopped again: exiting without writing anything more\n".utf8))
            leave()
        }
    }

    /// Exits with 130 without running exit handlers: other threads may be inside a library
    /// (an OpenCL driver starting up) whose static destructors would crash under them.
    private func leave() -> Never {
        fflush(stdout)
        _exit(130)
    }
}
