import ArgumentParser
import Foundation
import GPUStyle

/// `stylize-gpu flow FROM TO -o OUT.flo`: the optical flow the video command uses, between two
/// frames, as a Middlebury .flo file (diagnostics and benchmarks/video/flow.py; not listed in
/// the help).
struct FlowCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flow",
        abstract: "Optical flow (TV-L1) from one frame to another, written as a Middlebury .flo file.",
        shouldDisplay: false
    )

    @Argument(help: "The frame the flow starts from: FROM(x) ≈ TO(x + flow(x)).")
    var from: String
    @Argument(help: "The frame it points into (the same size).")
    var to: String
    @Option(name: .shortAndLong, help: "The .flo file to write.")
    var output: String
    @OptionGroup var deviceOptions: DeviceOptions
    @Option(help: "Compute the flow this many times and print the median time of one (benchmarks).")
    var `repeat` = 1

    func validate() throws {
        guard `repeat` >= 1 else { throw StyleError("--repeat must be 1 or more (got \(`repeat`))") }
        for path in [from, to] { try requireRegularFile(path) }
        try checkOutputPath(output, inputs: [from, to])
    }

    func run() throws {
        let first = try ImageFile.read(from).image, second = try ImageFile.read(to).image
        guard first.width == second.width, first.height == second.height else {
            throw StyleError(
                "\(to) is \(second.width)×\(second.height), \(from) \(first.width)×\(first.height); "
                    + "give two frames of one size"
            )
        }
        let backend = try BackendFactory.make(try DeviceSelector(deviceOptions.device))
        var flow: [Float] = []
        var seconds: [Double] = []
        for _ in 0..<`repeat` {
            let start = DispatchTime.now().uptimeNanoseconds
            flow = try OpticalFlow().flow(backend: backend, from: first, to: second)
            seconds.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
        }
        try FlowFile.write(flow, width: first.width, height: first.height, to: output)
        if `repeat` > 1 {
            let median = String(format: "%.4f", seconds.sorted()[seconds.count / 2])
            print("flow \(first.width)×\(first.height) on \(backend.name): median \(median) s of \(`repeat`)")
        }
    }
}
