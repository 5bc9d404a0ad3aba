/// Every op a backend computes, one case per `compute…` requirement of `Backend`: the one list
/// that forwarding, phase profiling and the coverage tests read.
public enum BackendOp: String, CaseIterable, Sendable {
    case fill, copy, copyRegion, axpy, scale, clamp, dot
    case roundToHalf
    case conv3x3, conv3x3BackwardData, relu, reluBackward, pool2x2, pool2x2Backward, reluPool2x2Backward
    case encodeReluCodes, decodeReluCodes
    case gram, gramBackward, meanSquaredError, meanSquaredErrorGradient, totalVariation, totalVariationGradient
    case preprocess, preprocessBackward, clampRound, multiplyByMask
    case adamStep
    case warpBilinear, warpBilinearBackward, flowDerivatives, tvl1PrimalStep, tvl1DualStep, median3x3, upsampleFlow,
        reliabilityMask
    case temporalLoss, temporalLossGradient

    /// The part of an iteration `bench --profile` counts the op's time in.
    public var phase: IterationPhase {
        switch self {
        case .conv3x3, .relu, .pool2x2, .preprocess, .roundToHalf: return .forward
        case .conv3x3BackwardData, .reluBackward, .pool2x2Backward, .reluPool2x2Backward, .preprocessBackward:
            return .backward
        case .gram, .gramBackward, .meanSquaredError, .meanSquaredErrorGradient, .totalVariation,
            .totalVariationGradient, .multiplyByMask, .temporalLoss, .temporalLossGradient:
            return .losses
        case .adamStep, .dot: return .optimizer
        case .fill, .copy, .copyRegion, .axpy, .scale, .clamp, .clampRound: return .other
        // A tiled evaluation's keeping of what its backward pass reads, in place of a forward pass.
        case .encodeReluCodes, .decodeReluCodes: return .other
        // Once per video frame, before its run.
        case .warpBilinear, .warpBilinearBackward, .flowDerivatives, .tvl1PrimalStep, .tvl1DualStep, .median3x3,
            .upsampleFlow,
            .reliabilityMask:
            return .other
        }
    }

    /// The op that computes this op's gradient, for the ops that have one.
    public var gradient: BackendOp? {
        switch self {
        case .conv3x3: return .conv3x3BackwardData
        case .relu: return .reluBackward
        case .pool2x2: return .pool2x2Backward
        case .gram: return .gramBackward
        case .meanSquaredError: return .meanSquaredErrorGradient
        case .totalVariation: return .totalVariationGradient
        case .preprocess: return .preprocessBackward
        // Linear and diagonal in x: its own adjoint.
        case .multiplyByMask: return .multiplyByMask
        case .warpBilinear: return .warpBilinearBackward
        case .temporalLoss: return .temporalLossGradient
        default: return nil
        }
    }
}
