import ArgumentParser
import Foundation
import GPUStyle

/// How progress is shown.
enum ProgressStyle: String, ExpressibleByArgument, CaseIterable {
    /// A live bar on a terminal, plain lines otherwise.
    case auto
    case bar
    case plain
    /// One JSON object per printed iteration on stdout.
    case json
    case none
}

/// Prints iteration reports: a live bar (stderr, redrawn in place), plain lines (stderr),
/// or JSON lines (stdout) with the schema {"iteration","loss","content","style","tv","elapsed_s"}.
final class ProgressPrinter {
    private let style: ProgressStyle
    private let total: Int
    private var lastBarLength = 0
    private var lastReport: IterationReport?

    init(style: ProgressStyle, totalIterations: Int) {
        if style == .auto {
            self.style = isatty(STDERR_FILENO) != 0 ? .bar : .plain
        } else {
            self.style = style
        }
        total = totalIterations
    }

    /// Whether reports should be printed as JSON (stdout must then carry nothing else).
    var isJSON: Bool { style == .json }

    func report(_ report: IterationReport) {
        defer { lastReport = report }
        let l = report.losses
        switch style {
        case .none, .auto:
            return
        case .json:
            let fields: [(String, String)] = [
                ("iteration", "\(report.iteration)"), ("loss", json(l.total)), ("content", json(l.content)),
                ("style", json(l.style)), ("tv", json(l.totalVariation)),
                ("elapsed_s", String(format: "%.3f", report.elapsedSeconds)),
            ]
            print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
            fflush(stdout)
        case .plain:
            printNote(
                String(
                    format: "iteration %d/%d  loss %.4g (content %.4g, style %.4g, tv %.4g)  %@",
                    report.iteration, total, l.total, l.content, l.style, l.totalVariation, rate(report)))
        case .bar:
            let width = 24
            let filled = total > 0 ? width * report.iteration / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(
                format: "\r%@ %d/%d  loss %.4g (c %.3g s %.3g tv %.3g)  %@", bar, report.iteration, total,
                l.total, l.content, l.style, l.totalVariation, rate(report))
            let padded = line.padding(toLength: max(line.count, lastBarLength), withPad: " ", startingAt: 0)
            lastBarLength = line.count
            FileHandle.standardError.write(Data(padded.utf8))
            if report.iteration >= total { finishLine() }
        }
    }

    /// Ends the live bar's line before other output.
    func finishLine() {
        if style == .bar && lastBarLength > 0 {
            FileHandle.standardError.write(Data("\n".utf8))
            lastBarLength = 0
        }
    }

    /// Iterations per second since the previous report, and the time left at that rate.
    private func rate(_ report: IterationReport) -> String {
        guard let last = lastReport, report.iteration > last.iteration,
            report.elapsedSeconds > last.elapsedSeconds
        else { return "" }
        let perSecond = Double(report.iteration - last.iteration) / (report.elapsedSeconds - last.elapsedSeconds)
        let left = Double(total - report.iteration) / perSecond
        return String(format: "%.2f it/s, ETA %@", perSecond, formatDuration(left))
    }

    private func json(_ value: Double) -> String {
        value.isFinite ? "\(value)" : "null"
    }
}

func formatDuration(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?" }
    let s = Int(seconds.rounded())
    return s >= 3600
        ? String(format: "%dh%02dm", s / 3600, s % 3600 / 60)
        : s >= 60 ? String(format: "%dm%02ds", s / 60, s % 60) : "\(s)s"
}
