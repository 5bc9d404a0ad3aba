/// Which optimiser updates the image.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    case adam, lbfgs

    /// Default learning rate: 10 pixel units for Adam (docs/DESIGN.md), 1 for L-BFGS (as neural-style).
    public var defaultLearningRate: Float { self == .adam ? 10 : 1 }
}

/// Updates the image from the gradient at the current image. `update` is called once per
/// iteration after the objective has been evaluated at `image` into `gradient`. With `bounds`,
/// each step ends with the projection of the image onto them.
public protocol ImageOptimizer: AnyObject {
    /// Enqueues step `step` (1-based). Returns false when the optimiser has converged and stops.
    func update(image: Tensor, gradient: Tensor, step: Int) throws -> Bool
    /// The optimiser's state tensors, in a fixed order (for checkpoints).
    var stateTensors: [Tensor] { get }
    /// The optimiser's state held on the host (for checkpoints).
    var hostState: [Double] { get }
    func restoreHostState(_ values: [Double]) throws
}

/// Adam with all state resident on the backend (one kernel per step).
public final class AdamOptimizer: ImageOptimizer {
    private let backend: Backend
    private let parameters: AdamParameters
    private let m: Tensor
    private let v: Tensor
    private let bounds: ClosedRange<Float>?

    public init(backend: Backend, shape: Shape, parameters: AdamParameters, bounds: ClosedRange<Float>? = nil) throws {
        self.backend = backend
        self.parameters = parameters
        self.bounds = bounds
        m = try backend.makeTensor(shape)
        v = try backend.makeTensor(shape)
    }

    public var stateTensors: [Tensor] { [m, v] }
    /// The step count is the run's iteration; Adam keeps nothing else on the host.
    public var hostState: [Double] { [] }

    public func restoreHostState(_ values: [Double]) throws {
        guard values.isEmpty else { throw StyleError("the checkpoint's optimiser state is not Adam's") }
    }

    public func update(image: Tensor, gradient: Tensor, step: Int) throws -> Bool {
        try backend.adamStep(parameter: image, gradient: gradient, m: m, v: v, step: step, parameters: parameters)
        if let bounds { try backend.clamp(image, lower: bounds.lowerBound, upper: bounds.upperBound) }
        return true
    }
}

/// L-BFGS as torch.optim.LBFGS (and so neural-style) runs it without a line search: one
/// evaluation per iteration, a fixed step of `learningRate` along the two-loop direction.
/// Every vector lives on the backend; only dot products come back to the host. The first
/// step is scaled by min(1, 1/‖g‖₂) (torch uses ‖g‖₁, which the op table has no reduction for;
/// it only sizes the first step), and every step's RMS is capped at `maximumStepRMS` pixel units,
/// which torch does not do.
///
/// With `bounds` (the projection), a step's s is the displacement the image actually made,
/// x_{k+1} − x_k after the projection, not t·d: the pair (s, y) then satisfies the secant
/// condition for the step taken, and a pair whose projected step turned it non-positive
/// (yᵀs ≤ 0) is left out of the history like any other.
public final class LBFGSOptimizer: ImageOptimizer {
    private let backend: Backend
    private let learningRate: Float
    private let historySize: Int
    private let previousGradient: Tensor
    private let direction: Tensor
    /// (s, y) pairs, allocated up front so the loop never allocates: `historySize` in use plus
    /// one spare that receives the new pair before it is accepted.
    private let s: [Tensor]
    private let y: [Tensor]
    private var rho: [Double]
    private var alpha: [Double]
    /// Ring positions, oldest first.
    private var order: [Int] = []
    private var lastStepSize: Float = 0
    private var hessianDiagonal: Double = 1
    private let bounds: ClosedRange<Float>?
    /// The largest RMS change per value one step may make, in pixel units (0–255 scale).
    static let maximumStepRMS = 16.0

    public init(
        backend: Backend, shape: Shape, learningRate: Float, historySize: Int, bounds: ClosedRange<Float>? = nil
    ) throws {
        guard historySize >= 1 else { throw StyleError("--history-size must be at least 1") }
        self.backend = backend
        self.bounds = bounds
        self.learningRate = learningRate
        self.historySize = historySize
        previousGradient = try backend.makeTensor(shape)
        direction = try backend.makeTensor(shape)
        s = try (0...historySize).map { _ in try backend.makeTensor(shape) }
        y = try (0...historySize).map { _ in try backend.makeTensor(shape) }
        rho = Array(repeating: 0, count: historySize + 1)
        alpha = Array(repeating: 0, count: historySize + 1)
    }

    public var stateTensors: [Tensor] { [previousGradient, direction] + s + y }

    /// [step size, Hessian diagonal, pairs in use, their slots oldest first, ρ of every slot].
    public var hostState: [Double] {
        [Double(lastStepSize), hessianDiagonal, Double(order.count)] + order.map(Double.init) + rho
    }

    public func restoreHostState(_ values: [Double]) throws {
        let slots = s.count
        guard values.count >= 3, let used = Int(exactly: values[2]), used >= 0, used <= historySize,
            values.count == 3 + used + slots
        else {
            throw StyleError("the checkpoint's optimiser state is not L-BFGS's with history size \(historySize)")
        }
        let restoredOrder = values[3..<(3 + used)].compactMap { Int(exactly: $0) }
        guard restoredOrder.count == used, restoredOrder.allSatisfy({ (0..<slots).contains($0) }) else {
            throw StyleError("the checkpoint's L-BFGS history is corrupt")
        }
        lastStepSize = Float(values[0])
        hessianDiagonal = values[1]
        order = restoredOrder
        rho = Array(values[(3 + used)...])
    }

    public func update(image: Tensor, gradient g: Tensor, step: Int) throws -> Bool {
        let d = direction
        // The slot the next pair goes to (the same at this step and the next: `order` only
        // changes in between when a pair is accepted, here).
        func freeSlot() -> Int { s.indices.first { !order.contains($0) } ?? 0 }
        if step == 1 {
            try backend.copy(g, to: d)
            try backend.scale(d, by: -1)
            let norm = try backend.dot(g, g).squareRoot()
            lastStepSize = Float(min(1, 1 / max(norm, 1e-30))) * learningRate
        } else {
            // New curvature pair: y = g − g_prev, s = t·d_prev (projected: the step's displacement, already there).
            let slot = freeSlot()
            try backend.copy(g, to: y[slot])
            try backend.axpy(alpha: -1, x: previousGradient, y: y[slot])
            if bounds == nil {
                try backend.copy(d, to: s[slot])
                try backend.scale(s[slot], by: lastStepSize)
            }
            let ys = try backend.dot(y[slot], s[slot])
            if ys > 1e-10 {
                order.append(slot)
                if order.count > historySize { order.removeFirst() }
                rho[slot] = 1 / ys
                hessianDiagonal = ys / max(try backend.dot(y[slot], y[slot]), 1e-30)
            }
            // Two-loop recursion: d = −H·g.
            try backend.copy(g, to: d)
            try backend.scale(d, by: -1)
            for i in order.reversed() {
                alpha[i] = try backend.dot(s[i], d) * rho[i]
                try backend.axpy(alpha: Float(-alpha[i]), x: y[i], y: d)
            }
            try backend.scale(d, by: Float(hessianDiagonal))
            for i in order {
                let beta = try backend.dot(y[i], d) * rho[i]
                try backend.axpy(alpha: Float(alpha[i] - beta), x: s[i], y: d)
            }
            lastStepSize = learningRate
            // Without a line search, a curvature pair from the tiny first step can ask for a
            // step of thousands of pixel units (the loss jumped 1e5-fold at 128 px). Cap the
            // step's RMS per value; ordinary steps are far below the cap and are unchanged.
            let rms = Double(lastStepSize) * (try backend.dot(d, d) / Double(max(d.count, 1))).squareRoot()
            if rms > LBFGSOptimizer.maximumStepRMS {
                lastStepSize *= Float(LBFGSOptimizer.maximumStepRMS / rms)
            }
        }
        try backend.copy(g, to: previousGradient)
        // Not a descent direction any more (torch's tolerance_change): converged.
        if try backend.dot(g, d) > -1e-9 { return false }
        guard let bounds else {
            try backend.axpy(alpha: lastStepSize, x: d, y: image)
            return true
        }
        // s = P(x + t·d) − x, in the slot the next pair takes.
        let next = s[freeSlot()]
        try backend.copy(image, to: next)
        try backend.axpy(alpha: lastStepSize, x: d, y: image)
        try backend.clamp(image, lower: bounds.lowerBound, upper: bounds.upperBound)
        try backend.scale(next, by: -1)
        try backend.axpy(alpha: 1, x: image, y: next)
        return true
    }
}
