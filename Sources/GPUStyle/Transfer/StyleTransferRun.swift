import Foundation

/// Settings of the optimisation itself (what a checkpoint must match to resume).
public struct OptimizationSettings: Equatable, Codable, Sendable {
    public var iterations: Int = 1000
    public var optimizer: OptimizerKind = .adam
    /// nil: the optimiser's default.
    public var learningRate: Float? = nil
    public var lbfgsHistory: Int = 100

    public init(iterations: Int = 1000, optimizer: OptimizerKind = .adam, learningRate: Float? = nil,
                lbfgsHistory: Int = 100) {
        self.iterations = iterations
        self.optimizer = optimizer
        self.learningRate = learningRate
        self.lbfgsHistory = lbfgsHistory
    }

    public var effectiveLearningRate: Float { learningRate ?? optimizer.defaultLearningRate }
}

/// The loss at one iteration (0 = the initial image), with the time since the run started.
public struct IterationReport: Equatable, Sendable {
    public var iteration: Int
    public var losses: LossValues
    public var elapsedSeconds: Double
}

/// How a run ended.
public enum RunEnd: Equatable, Sendable {
    case completed
    /// The optimiser found no descent direction (L-BFGS) before the last iteration.
    case converged(atIteration: Int)
    /// `shouldStop` asked to stop (Ctrl-C, SIGTERM) after this iteration.
    case interrupted(atIteration: Int)
}

/// One style-transfer optimisation on a backend: the image, its gradient and the optimiser
/// state resident for all iterations. The host reads losses only at report points and the
/// image only at snapshots.
public final class StyleTransferRun {
    public let backend: Backend
    public let objective: StyleObjective
    public let settings: OptimizationSettings
    /// The image being optimised, 3×H×W, RGB 0–255.
    public let image: Tensor
    private let gradient: Tensor
    private let optimizer: ImageOptimizer
    /// Iterations done (optimiser steps taken).
    public private(set) var iteration = 0

    public init(objective: StyleObjective, initialImage: [Float], height: Int, width: Int,
                settings: OptimizationSettings) throws {
        guard settings.iterations >= 1 else { throw StyleError("--iterations must be at least 1") }
        backend = objective.network.backend
        self.objective = objective
        self.settings = settings
        let shape = Shape(c: 3, h: height, w: width)
        guard initialImage.count == shape.count else {
            throw StyleError("internal error: initial image has \(initialImage.count) values for \(shape)")
        }
        image = try backend.makeTensor(shape)
        try backend.upload(initialImage, to: image)
        gradient = try backend.makeTensor(shape)
        switch settings.optimizer {
        case .adam:
            optimizer = try AdamOptimizer(backend: backend, shape: shape,
                                          parameters: AdamParameters(learningRate: settings.effectiveLearningRate))
        case .lbfgs:
            optimizer = try LBFGSOptimizer(backend: backend, shape: shape, learningRate: settings.effectiveLearningRate,
                                           historySize: settings.lbfgsHistory)
        }
    }

    /// Runs from the current iteration to `settings.iterations`.
    /// - Parameters:
    ///   - reportEvery: losses are read and reported at iterations that are multiples of this, and at the first and last.
    ///   - onReport: called with each report (blocks the host for that iteration only).
    ///   - snapshotEvery: 0 for none; else `onSnapshot` gets the image at multiples of it.
    ///   - shouldStop: polled after each iteration; true ends the run early (the image is kept).
    public func run(reportEvery: Int, onReport: (IterationReport) throws -> Void,
                    snapshotEvery: Int = 0, onSnapshot: (Int, [Float]) throws -> Void = { _, _ in },
                    shouldStop: () -> Bool = { false }) throws -> RunEnd {
        let start = DispatchTime.now().uptimeNanoseconds
        let elapsed = { Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9 }
        let total = settings.iterations
        let startIteration = iteration
        while true {
            let reports = iteration == startIteration || iteration == total
                || (reportEvery > 0 && iteration % reportEvery == 0)
            // The last iteration needs an evaluation only to report its loss.
            if iteration < total || reports {
                try objective.evaluate(image: image, gradient: gradient)
            }
            if reports {
                try onReport(IterationReport(iteration: iteration, losses: try objective.readLosses(),
                                             elapsedSeconds: elapsed()))
            }
            if snapshotEvery > 0, iteration > startIteration, iteration % snapshotEvery == 0 {
                try onSnapshot(iteration, try backend.download(image))
            }
            if iteration >= total { return .completed }
            if shouldStop() { return .interrupted(atIteration: iteration) }
            let moved = try optimizer.update(image: image, gradient: gradient, step: iteration + 1)
            if !moved { return .converged(atIteration: iteration) }
            iteration += 1
        }
    }

    /// One iteration with nothing read back: evaluate the objective at the current image, then
    /// take the optimiser step. Only enqueues (call `backend.finish()` to wait); ignores
    /// `settings.iterations`, so a benchmark can time single iterations. Returns false when the
    /// optimiser found no descent direction (L-BFGS); the iteration count then stays.
    @discardableResult
    public func step() throws -> Bool {
        try objective.evaluate(image: image, gradient: gradient)
        let moved = try optimizer.update(image: image, gradient: gradient, step: iteration + 1)
        if moved { iteration += 1 }
        return moved
    }

    /// The current image (blocks until the queued work is done).
    public func currentImage() throws -> [Float] {
        try backend.download(image)
    }
}
