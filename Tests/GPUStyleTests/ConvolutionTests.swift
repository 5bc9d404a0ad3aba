import Foundation
@testable import GPUStyle
import XCTest

/// conv3x3 and its backward-data: native against the Float64 reference (the op table checks
/// OpenCL against native, and backward-data against finite differences).
final class ConvolutionTests: OpTestCase {
    func testConvForwardMatchesReference() throws {
        generator = SeededGenerator(seed: NativeBackendTests.seed)
        for (index, shape) in NativeBackendTests.convCases.enumerated() {
            let relu = index % 2 == 0
            let layer = randomLayer(inputChannels: shape.i, outputChannels: shape.o)
            let input = ReferenceTensor.random(Shape(c: shape.i, h: shape.h, w: shape.w), using: &generator)
            let expected = ReferenceOps.conv3x3(
                input, weights: layer.weights, bias: layer.bias,
                outputChannels: shape.o, relu: relu)
            let magnitudes = ReferenceOps.conv3x3(
                input.magnitudes, weights: layer.weights.map(abs),
                bias: layer.bias.map(abs), outputChannels: shape.o, relu: false)
            // One row per im2col tile as well as the default single tile: the tiling must not show.
            for tileFloats in [NativeBackend.defaultColumnTileFloats, 1] {
                let backend = NativeBackend(convolution: .direct)
                backend.columnTileFloats = tileFloats
                let weights = try backend.makeConvWeights(
                    weights: layer.weights.map(Float.init), bias: layer.bias.map(Float.init),
                    outputChannels: shape.o, inputChannels: shape.i)
                let output = try backend.makeTensor(expected.shape)
                try backend.conv3x3(input: backend.makeTensor(input), weights: weights, relu: relu, output: output)
                // products (I·9) + bias add + final rounding
                let factor = float32ErrorFactor(terms: shape.i * 9 + 2)
                try assertClose(
                    backend.download(output), expected, bounds: magnitudes.values.map { factor * $0 },
                    "conv3x3 \(shape) relu \(relu) tile \(tileFloats)")
            }
        }
    }

    /// Both backward-data methods (and row tiling) equal the reference transposed convolution,
    /// which is the forward reference applied to dY with the flipped, channel-swapped weights.
    func testConvBackwardDataMatchesReferenceTransposedConvolution() throws {
        for shape in [(i: 64, o: 67, h: 13, w: 7), (i: 3, o: 5, h: 1, w: 2), (i: 5, o: 1, h: 7, w: 13)] {
            let layer = randomLayer(inputChannels: shape.i, outputChannels: shape.o)
            let gradOutput = ReferenceTensor.random(Shape(c: shape.o, h: shape.h, w: shape.w), using: &generator)
            let flipped = ConvKernelLayouts.flippedTransposed(
                layer.weights, outputChannels: shape.o, inputChannels: shape.i)
            let zeroBias = [Double](repeating: 0, count: shape.i)
            let expected = ReferenceOps.conv3x3(
                gradOutput, weights: flipped, bias: zeroBias, outputChannels: shape.i, relu: false)
            let magnitudes = ReferenceOps.conv3x3(
                gradOutput.magnitudes, weights: flipped.map(abs), bias: zeroBias,
                outputChannels: shape.i, relu: false)
            let factor = float32ErrorFactor(terms: shape.o * 9 + 1)
            for method in ConvBackwardMethod.allCases {
                for tileFloats in [NativeBackend.defaultColumnTileFloats, 1] {
                    let backend = NativeBackend(convolution: .direct)
                    backend.backwardMethodOverride = method
                    backend.columnTileFloats = tileFloats
                    let weights = try backend.makeConvWeights(
                        weights: layer.weights.map(Float.init),
                        bias: layer.bias.map(Float.init),
                        outputChannels: shape.o, inputChannels: shape.i)
                    let gradInput = try backend.makeTensor(expected.shape)
                    try backend.fill(gradInput, value: 1e6)  // must be overwritten
                    try backend.conv3x3BackwardData(
                        gradOutput: backend.makeTensor(gradOutput), weights: weights,
                        reluMaskFrom: nil, gradInput: gradInput, accumulate: false)
                    try assertClose(
                        backend.download(gradInput), expected, bounds: magnitudes.values.map { factor * $0 },
                        "conv3x3BackwardData \(shape) \(method) tile \(tileFloats)")
                }
            }
        }
    }
}
