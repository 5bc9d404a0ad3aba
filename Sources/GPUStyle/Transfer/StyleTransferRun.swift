import Foundation

/// Settings of the optimisation itself (what a checkpoint must match to resume).
public struct OptimizationSettings: Equatable, Codable, Sendable {
    /// Iterations of this run (with scales: of each scale after the first).
    public var iterations: Int = 1000
    public var optimizer: OptimizerKind = .adam
    /// nil: the optimiser's default.
    public var learningRate: Float? = nil
    public var lbfgsHistory: Int = 100
    /// Projects the image onto 0–255 after every step (and the start), so the image the loss
    /// was computed on is the image written; false: the classic unbounded optimisation.
    public var clamp = true
    /// Decay of the exponential moving average of the iterate that is written (0: off).
    public var averageDecay: Double = OptimizationSettings.defaultAverageDecay

    public static let defaultAverageDecay = 0.0

    public init(
        iterations: Int = 1000, optimizer: OptimizerKind = .adam, learningRate: Float? = nil,
        lbfgsHistory: Int = 100, clamp: Bool = true, averageDecay: Double = OptimizationSettings.defaultAverageDecay
    ) {
        self.iterations = iterations
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.lbfgsHistory = lbfgsHistory
        self.clamp = clamp
        self.averageDecay = averageDecay
    }

    public var effectiveLearningRate: Float { learningRate ?? optimizer.defaultLearningRate }

    /// The range the projection keeps the image in.
    static let pixelRange: ClosedRange<Float> = 0...255
}

/// The loss at one iteration (0 = the initial image), with the time since the run started.
public struct IterationReport: Equatable, Sendable {
    /// The iteration within its scale.
    public var iteration: Int
    public var losses: LossValues
    public var elapsedSeconds: Double
    /// The scale (0-based; 0 for a single-scale run) and its image size.
    public var scale = 0
    public var width = 0
    public var height = 0
    /// Bytes the job's device holds allocated through its backend at the report (weights, workspace,
    /// targets, optimiser state, scratch: `Backend.allocatedBytes`); set by `StyleJob.perform`.
    public var deviceBytes = 0
}

/// How a run ended.
public enum RunEnd: Equatable, Sendable {
    case completed
    /// The optimiser found no descent direction (L-BFGS) before the last iteration.
    case converged(atIteration: Int)
    /// `shouldStop` asked to stop (Ctrl-C, SIGTERM) after this iteration.
    case interrupted(atIteration: Int)
    /// A loss term was NaN or infinite at `atIteration`; the image was put back to the last
    /// checked iteration whose losses were finite.
    case nonFinite(atIteration: Int, term: String, restoredIteration: Int)
}

/// A run refused at its first evaluation, before any step: nothing new to keep.
public struct LossScaleError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

/// The whole state of a run between two iterations, for checkpoints.
public struct RunState: Equatable {
    /// The scale (0-based) and the iteration within it.
    public var scale: Int
    public var iteration: Int
    public var image: [Float]
    /// The optimiser's tensors in `ImageOptimizer.stateTensors` order.
    public var optimizerTensors: [[Float]]
    public var optimizerHostState: [Double]
    /// The iterate average's running sum (before bias correction), when averaging.
    public var average: [Float]?

    public init(
        scale: Int = 0, iteration: Int, image: [Float], optimizerTensors: [[Float]], optimizerHostState: [Double],
        average: [Float]? = nil
    ) {
        self.scale = scale
        self.iteration = iteration
        self.image = image
        self.optimizerTensors = optimizerTensors
        self.optimizerHostState = optimizerHostState
        self.average = average
    }
}

/// One style-transfer optimisation on a backend at one size: the image, its gradient, the
/// optimiser state and the iterate average resident for all iterations, on the device or, for a
/// tiled objective whose state lives on the host, on its host backend. The host reads losses
/// only at report points and the image only at snapshots.
public final class StyleTransferRun {
    /// The backend of the image, its gradient, the optimiser and the average: the objective's
    /// `state` when tiled, else its network's.
    public let backend: Backend
    public let objective: ImageObjective
    public let settings: OptimizationSettings
    /// The scale of a coarse-to-fine run this run optimises (0-based).
    public let scale: Int
    /// The image being optimised, 3×H×W, RGB 0–255.
    public let image: Tensor
    private let gradient: Tensor
    private let optimizer: ImageOptimizer
    /// The image at the last iteration whose losses were read and finite.
    private let lastGoodImage: Tensor
    /// The iterate average's running sum Σ (1−d)·d^(k−i)·x_i and its copy at the last good
    /// iteration; nil when not averaging.
    private let average: (sum: Tensor, lastGood: Tensor)?
    /// Iterations done (optimiser steps taken).
    public private(set) var iteration = 0

    public convenience init(
        objective: ImageObjective, initialImage: [Float], height: Int, width: Int,
        settings: OptimizationSettings
    ) throws {
        try self.init(
            objective: objective, start: .pixels(initialImage), height: height, width: width, settings: settings)
    }

    /// Where the optimised image starts: pixels from the host, or a copy of a tensor already on
    /// the device (the content image: no second upload).
    public enum Start {
        case pixels([Float])
        case copy(of: Tensor)
    }

    public init(
        objective: ImageObjective, start: Start, height: Int, width: Int, settings: OptimizationSettings,
        scale: Int = 0
    ) throws {
        guard settings.iterations >= 1 else { throw StyleError("--iterations must be at least 1") }
        backend = (objective as? TiledObjective)?.state ?? objective.network.backend
        self.objective = objective
        self.settings = settings
        self.scale = scale
        let shape = Shape(c: 3, h: height, w: width)
        image = try backend.makeTensor(shape)
        switch start {
        case .pixels(let values):
            guard values.count == shape.count else {
                throw StyleError("internal error: initial image has \(values.count) values for \(shape)")
            }
            try backend.upload(values, to: image)
        case .copy(let tensor):
            try backend.copy(tensor, to: image)
        }
        gradient = try backend.makeTensor(shape)
        lastGoodImage = try backend.makeTensor(shape)
        let bounds = settings.clamp ? OptimizationSettings.pixelRange : nil
        switch settings.optimizer {
        case .adam:
            optimizer = try AdamOptimizer(
                backend: backend, shape: shape,
                parameters: AdamParameters(learningRate: settings.effectiveLearningRate), bounds: bounds)
        case .lbfgs:
            optimizer = try LBFGSOptimizer(
                backend: backend, shape: shape, learningRate: settings.effectiveLearningRate,
                historySize: settings.lbfgsHistory, bounds: bounds)
        }
        if let bounds { try backend.clamp(image, lower: bounds.lowerBound, upper: bounds.upperBound) }
        if settings.averageDecay > 0 {
            average = (try backend.makeTensor(shape), try backend.makeTensor(shape))
            try updateAverage()
        } else {
            average = nil
        }
    }

    /// sum = d·sum + (1−d)·x: one more iterate in the average (the first starts from zero).
    private func updateAverage() throws {
        guard let sum = average?.sum else { return }
        let decay = settings.averageDecay
        if iteration == 0 { try backend.fill(sum, value: 0) } else { try backend.scale(sum, by: Float(decay)) }
        try backend.axpy(alpha: Float(1 - decay), x: image, y: sum)
    }

    /// Runs from the current iteration to `settings.iterations`.
    /// - Parameters:
    ///   - reportEvery: losses are read and reported at iterations that are multiples of this, and at the first and
    ///   last.
    ///   - onReport: called with each report (blocks the host for that iteration only).
    ///   - checkEvery: losses are also read (not reported) at multiples of this to stop at a NaN or
    ///     infinity; the image of each finite check is kept on the device to fall back to.
    ///   - snapshotEvery: 0 for none; else `onSnapshot` gets the result image (`resultImage()`)
    ///     at multiples of it.
    ///   - checkpointEvery: 0 for none; else `onCheckpoint` is called at multiples of it, between
    ///     iterations, where `exportState()` gives the state to save.
    ///   - shouldStop: polled after each iteration; true ends the run early (the image is kept).
    public func run(
        reportEvery: Int, onReport: (IterationReport) throws -> Void, checkEvery: Int = 10,
        snapshotEvery: Int = 0, onSnapshot: (Int, [Float]) throws -> Void = { _, _ in },
        checkpointEvery: Int = 0, onCheckpoint: (Int) throws -> Void = { _ in },
        shouldStop: () -> Bool = { false }
    ) throws -> RunEnd {
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsed = { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        let total = settings.iterations
        let startIteration = iteration
        var lastGoodIteration = iteration
        func isMultiple(_ every: Int) -> Bool { every > 0 && iteration % every == 0 }
        while true {
            let reports = iteration == startIteration || iteration == total || isMultiple(reportEvery)
            let checks = reports || isMultiple(checkEvery)
            // The last iteration needs an evaluation only to report its loss.
            if iteration < total || reports {
                try objective.evaluate(image: image, gradient: gradient, iteration: iteration)
                if iteration == startIteration { try checkGradientScale() }
            }
            if checks {
                let losses = try objective.readLosses()
                if reports {
                    try onReport(
                        IterationReport(
                            iteration: iteration, losses: losses, elapsedSeconds: elapsed(), scale: scale,
                            width: image.shape.w, height: image.shape.h))
                }
                guard losses.isFinite else {
                    let bad = iteration
                    if lastGoodIteration != iteration {
                        try backend.copy(lastGoodImage, to: image)
                        if let average { try backend.copy(average.lastGood, to: average.sum) }
                        iteration = lastGoodIteration
                    }
                    return .nonFinite(
                        atIteration: bad, term: losses.firstNonFiniteTerm ?? "total",
                        restoredIteration: iteration)
                }
                try backend.copy(image, to: lastGoodImage)
                if let average { try backend.copy(average.sum, to: average.lastGood) }
                lastGoodIteration = iteration
            }
            if iteration > startIteration, isMultiple(snapshotEvery) {
                try onSnapshot(iteration, try resultImage())
            }
            if iteration > startIteration, isMultiple(checkpointEvery) {
                try onCheckpoint(iteration)
            }
            if iteration >= total { return .completed }
            if shouldStop() { return .interrupted(atIteration: iteration) }
            let moved = try optimizer.update(image: image, gradient: gradient, step: iteration + 1)
            if !moved { return .converged(atIteration: iteration) }
            iteration += 1
            try updateAverage()
        }
    }

    /// Refuses a gradient too large for float32 optimiser arithmetic: Adam squares each value
    /// (overflow beyond √FLT_MAX) and L-BFGS sums the squares of all N of them (beyond
    /// √(FLT_MAX / N)); the state then overflows and the steps vanish (the image never moves,
    /// the loss stays). A factor of 4 leaves room for the gradient to grow during the run.
    func checkGradientScale() throws {
        let values = try backend.download(gradient)
        let largest = values.reduce(Float(0)) { max($0, abs($1)) }
        let terms = Float(settings.optimizer == .adam ? 1 : values.count)
        let limit = (Float.greatestFiniteMagnitude / terms).squareRoot() / 4
        guard largest.isFinite, largest > limit else { return }
        throw LossScaleError(
            message: "the loss is too large for float32 arithmetic (its gradient reaches "
                + String(format: "%.1e", Double(largest))
                + ", the optimiser's steps would vanish); lower --style-weight "
                + "and --content-weight by the same factor (only their ratio shapes the result)")
    }

    /// One iteration with nothing read back: evaluate the objective at the current image, then
    /// take the optimiser step. Only enqueues (call `backend.finish()` to wait); ignores
    /// `settings.iterations`, so a benchmark can time single iterations. Returns false when the
    /// optimiser found no descent direction (L-BFGS); the iteration count then stays.
    @discardableResult
    public func step() throws -> Bool {
        try objective.evaluate(image: image, gradient: gradient, iteration: iteration)
        let moved = try optimizer.update(image: image, gradient: gradient, step: iteration + 1)
        if moved {
            iteration += 1
            try updateAverage()
        }
        return moved
    }

    /// The state between iterations (image, optimiser state, average, iteration) for a checkpoint.
    public func exportState() throws -> RunState {
        RunState(
            scale: scale, iteration: iteration, image: try backend.download(image),
            optimizerTensors: try optimizer.stateTensors.map(backend.download),
            optimizerHostState: optimizer.hostState, average: try average.map { try backend.download($0.sum) })
    }

    /// Continues from a saved state: the run then goes on exactly as the saved one would have.
    public func restore(_ state: RunState) throws {
        let tensors = optimizer.stateTensors
        guard state.image.count == image.count, state.optimizerTensors.count == tensors.count,
            zip(state.optimizerTensors, tensors).allSatisfy({ $0.count == $1.count }),
            state.average?.count == average.map({ _ in image.count })
        else {
            throw StyleError("the checkpoint's image or optimiser state does not match this run's size and optimiser")
        }
        guard state.scale == scale else {
            throw StyleError("internal error: a checkpoint of scale \(state.scale) restored at scale \(scale)")
        }
        guard state.iteration >= 0, state.iteration <= settings.iterations else {
            throw StyleError(
                "the checkpoint is at iteration \(state.iteration) of scale \(scale + 1), beyond its "
                    + "\(scale == 0 ? "--initial-iterations" : "--iterations") \(settings.iterations)")
        }
        try backend.upload(state.image, to: image)
        for (values, tensor) in zip(state.optimizerTensors, tensors) { try backend.upload(values, to: tensor) }
        if let sum = average?.sum, let values = state.average { try backend.upload(values, to: sum) }
        try optimizer.restoreHostState(state.optimizerHostState)
        iteration = state.iteration
    }

    /// The current iterate (blocks until the queued work is done).
    public func currentImage() throws -> [Float] {
        try backend.download(image)
    }

    /// The image the run stands for: the bias-corrected average of the iterates when averaging
    /// (sum / (1 − d^(k+1)) after k steps: the weights of x_0 … x_k then add up to 1), projected
    /// onto the pixel range when clamping; else the current iterate.
    public func resultImage() throws -> [Float] {
        guard let sum = average?.sum else { return try currentImage() }
        let correction = Float(1 / (1 - pow(settings.averageDecay, Double(iteration + 1))))
        let range = OptimizationSettings.pixelRange
        return try backend.download(sum).map {
            let value = $0 * correction
            return settings.clamp ? min(max(value, range.lowerBound), range.upperBound) : value
        }
    }
}
