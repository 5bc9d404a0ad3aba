import Foundation
import Kernels

extension OpenCLBackend {
    public func computeWarpBilinear(_ image: Tensor, flow: Tensor, output: Tensor) throws {
        let op = "warpBilinear"
        try elementwise(
            "warp_bilinear", image.count,
            [
                .buffer(try buffer(image, op)), .buffer(try buffer(flow, op)), .int(image.shape.h),
                .int(image.shape.w), .buffer(try buffer(output, op)), .int(image.count),
            ])
    }

    public func computeWarpBilinearBackward(
        gradOutput: Tensor, flow: Tensor, gradImage: Tensor, accumulate: Bool
    )
        throws
    {
        let op = "warpBilinearBackward"
        if gradOutput.count == 0 { return }
        // One work-item per channel: the scatter stays in a fixed order without atomics.
        try context.enqueue(
            try context.kernel("warp_bilinear_backward"), global: [gradOutput.shape.c], local: nil,
            [
                .buffer(try buffer(gradOutput, op)), .buffer(try buffer(flow, op)), .int(gradOutput.shape.h),
                .int(gradOutput.shape.w), .int(gradOutput.shape.c), .buffer(try buffer(gradImage, op)),
                .flag(accumulate),
            ])
    }

    public func computeFlowDerivatives(reference: Tensor, warped: Tensor, output: Tensor) throws {
        let op = "flowDerivatives"
        try elementwise(
            "flow_derivatives", reference.count,
            [
                .buffer(try buffer(reference, op)), .buffer(try buffer(warped, op)), .int(reference.shape.h),
                .int(reference.shape.w), .buffer(try buffer(output, op)),
            ])
    }

    public func computeTVL1PrimalStep(
        derivatives: Tensor, base: Tensor, flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor
    ) throws {
        let op = "tvl1PrimalStep"
        try elementwise(
            "tvl1_primal_step", flow.shape.pixels,
            [
                .buffer(try buffer(derivatives, op)), .buffer(try buffer(base, op)), .buffer(try buffer(flow, op)),
                .buffer(try buffer(dual, op)), .int(flow.shape.h), .int(flow.shape.w),
                .float(parameters.lambdaTheta), .float(parameters.theta), .buffer(try buffer(output, op)),
            ])
    }

    public func computeTVL1DualStep(flow: Tensor, dual: Tensor, parameters: TVL1Parameters, output: Tensor) throws {
        let op = "tvl1DualStep"
        try elementwise(
            "tvl1_dual_step", flow.shape.pixels,
            [
                .buffer(try buffer(flow, op)), .buffer(try buffer(dual, op)), .int(flow.shape.h), .int(flow.shape.w),
                .float(parameters.dualStep), .buffer(try buffer(output, op)),
            ])
    }

    public func computeMedian3x3(_ x: Tensor, output: Tensor) throws {
        let op = "median3x3"
        try elementwise(
            "median3x3", x.count,
            [
                .buffer(try buffer(x, op)), .int(x.shape.h), .int(x.shape.w), .buffer(try buffer(output, op)),
                .int(x.count),
            ])
    }

    public func computeUpsampleFlow(_ coarse: Tensor, output: Tensor) throws {
        let op = "upsampleFlow"
        try elementwise(
            "upsample_flow", output.count,
            [
                .buffer(try buffer(coarse, op)), .int(coarse.shape.h), .int(coarse.shape.w), .int(output.shape.h),
                .int(output.shape.w), .buffer(try buffer(output, op)), .int(output.count),
            ])
    }

    public func computeReliabilityMask(flow: Tensor, backwardFlow: Tensor, output: Tensor) throws {
        let op = "reliabilityMask"
        try elementwise(
            "reliability_mask", output.count,
            [
                .buffer(try buffer(flow, op)), .buffer(try buffer(backwardFlow, op)), .int(flow.shape.h),
                .int(flow.shape.w), .buffer(try buffer(output, op)),
            ])
    }

    public func computeTemporalLoss(
        _ x: Tensor, warped: Tensor, mask: Tensor, scale: Float, scalars: Tensor, slot: Int, accumulate: Bool
    ) throws {
        let op = "temporalLoss"
        try reduce(
            "temporal_loss_partial",
            [
                .buffer(try buffer(x, op)), .buffer(try buffer(warped, op)), .buffer(try buffer(mask, op)),
                .int(x.shape.pixels), .int(x.count),
            ],
            scale: scale, into: scalars, slot: slot, accumulate: accumulate, op: op)
    }

    public func computeTemporalLossGradient(
        _ x: Tensor, warped: Tensor, mask: Tensor, factor: Float, grad: Tensor, accumulate: Bool
    ) throws {
        let op = "temporalLossGradient"
        try elementwise(
            "temporal_loss_gradient", x.count,
            [
                .buffer(try buffer(x, op)), .buffer(try buffer(warped, op)), .buffer(try buffer(mask, op)),
                .int(x.shape.pixels), .float(factor), .buffer(try buffer(grad, op)), .flag(accumulate), .int(x.count),
            ])
    }
}
