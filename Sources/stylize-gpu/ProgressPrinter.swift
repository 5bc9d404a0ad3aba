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
/// or JSON lines (stdout) with the schema
/// {"scale","width","height","iteration","loss","content","style","tv","elapsed_s","device_bytes"}
/// (iteration within the scale; scale 0-based; device_bytes: what the backend holds allocated),
/// led by "frame" (0-based) and "frames" for a frame of `stylize-gpu video`.
final class ProgressPrinter {
    private let style: ProgressStyle
    /// Each scale's iterations and pixels (the ETA weighs later scales by their pixels).
    private let scales: [(iterations: Int, pixels: Int)]
    /// The video frame this run is, and how many there are.
    private let frame: (index: Int, count: Int)?
    private var lastBarLength = 0
    private var lastReport: IterationReport?

    init(style: ProgressStyle, scales: [(iterations: Int, pixels: Int)], frame: (index: Int, count: Int)? = nil) {
        if style == .auto {
            self.style = isatty(STDERR_FILENO) != 0 ? .bar : .plain
        } else {
            self.style = style
        }
        self.scales = scales
        self.frame = frame
    }

    /// "frame 3/40 " in a video, "scale 2/3 " in a coarse-to-fine run.
    private func scaleLabel(_ report: IterationReport) -> String {
        (frame.map { "frame \($0.index + 1)/\($0.count) " } ?? "")
            + (scales.count > 1 ? "scale \(report.scale + 1)/\(scales.count) " : "")
    }

    /// Whether reports should be printed as JSON (stdout must then carry nothing else).
    var isJSON: Bool { style == .json }

    func report(_ report: IterationReport) {
        defer { lastReport = report }
        let l = report.losses
        let total = scales.indices.contains(report.scale) ? scales[report.scale].iterations : report.iteration
        switch style {
        case .none, .auto:
            return
        case .json:
            let frameFields = frame.map { [("frame", "\($0.index)"), ("frames", "\($0.count)")] } ?? []
            let fields: [(String, String)] =
                frameFields + [
                    ("scale", "\(report.scale)"), ("width", "\(report.width)"), ("height", "\(report.height)"),
                    ("iteration", "\(report.iteration)"), ("loss", json(l.total)), ("content", json(l.content)),
                    ("style", json(l.style)), ("tv", json(l.totalVariation)),
                    ("elapsed_s", String(format: "%.3f", report.elapsedSeconds)),
                    ("device_bytes", "\(report.deviceBytes)"),
                ]
            print("{" + fields.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}")
            fflush(stdout)
        case .plain:
            printNote(
                String(
                    format: "%@iteration %d/%d  loss %.4g (content %.4g, style %.4g, tv %.4g)  %@",
                    scaleLabel(report), report.iteration, total, l.total, l.content, l.style, l.totalVariation,
                    rate(report)))
        case .bar:
            let width = 24
            let filled = total > 0 ? width * report.iteration / total : width
            let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
            let line = String(
                format: "\r%@%@ %d/%d  loss %.4g (c %.3g s %.3g tv %.3g)  %@", scaleLabel(report), bar,
                report.iteration, total,
                l.total, l.content, l.style, l.totalVariation, rate(report))
            let padded = line.padding(toLength: max(line.count, lastBarLength), withPad: " ", startingAt: 0)
            lastBarLength = line.count
            FileHandle.standardError.write(Data(padded.utf8))
            if report.iteration >= total, report.scale >= scales.count - 1 { finishLine() }
        }
    }

    /// Ends the live bar's line before other output.
    func finishLine() {
        if style == .bar && lastBarLength > 0 {
            FileHandle.standardError.write(Data("\n".utf8))
            lastBarLength = 0
        }
    }

    /// Iterations per second since the previous report, and the time left at that rate (later
    /// scales' iterations weighed by their pixels against this scale's).
    private func rate(_ report: IterationReport) -> String {
        guard let last = lastReport, last.scale == report.scale, report.iteration > last.iteration,
            report.elapsedSeconds > last.elapsedSeconds, scales.indices.contains(report.scale)
        else { return "" }
        let perSecond = Double(report.iteration - last.iteration) / (report.elapsedSeconds - last.elapsedSeconds)
        let current = scales[report.scale]
        let later = scales.dropFirst(report.scale + 1).reduce(0.0) {
            $0 + Double($1.iterations) * Double($1.pixels) / Double(max(current.pixels, 1))
        }
        let left = (Double(current.iterations - report.iteration) + later) / perSecond
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

extension StyleJob {
    /// Each scale's image size.
    var scaleSizes: [(width: Int, height: Int)] {
        scales.sides.indices.map { scales.size(scale: $0, width: inputSize.width, height: inputSize.height) }
    }

    /// Each scale's iterations and pixels, as ProgressPrinter takes them.
    var progressScales: [(iterations: Int, pixels: Int)] {
        scaleSizes.enumerated().map { (iterations: options.iterations(atScale: $0), pixels: $1.width * $1.height) }
    }
}
