import Foundation

/// How much memory a backend's device offers: the whole, and the largest single buffer.
public struct MemoryCapacity: Equatable, Sendable {
    public var totalBytes: UInt64
    public var largestBufferBytes: UInt64
    /// Whether the device's memory is this process's host memory (native, OpenCL CPU devices):
    /// then what the device holds counts against the host's memory too.
    public var sharesHostMemory: Bool

    public init(totalBytes: UInt64, largestBufferBytes: UInt64, sharesHostMemory: Bool = false) {
        self.totalBytes = totalBytes
        self.largestBufferBytes = largestBufferBytes
        self.sharesHostMemory = sharesHostMemory
    }

    /// The environment variable that overrides the device's reported memory ("512M", "2G", or bytes),
    /// to test the planner on a machine with plenty, or to leave room for other work on a shared GPU.
    public static let overrideVariable = "STYLIZE_GPU_DEVICE_MEMORY"

    /// This capacity, or the override from the environment (which also caps the largest buffer).
    public func applyingOverride(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> MemoryCapacity {
        guard let text = environment[MemoryCapacity.overrideVariable], !text.isEmpty else { return self }
        guard let bytes = MemoryCapacity.parseBytes(text) else {
            throw StyleError(
                "\(MemoryCapacity.overrideVariable)=\(text) is not a size; use e.g. 512M, 2G or a number of bytes")
        }
        return MemoryCapacity(
            totalBytes: bytes, largestBufferBytes: min(largestBufferBytes, bytes), sharesHostMemory: sharesHostMemory)
    }

    /// The environment variable that overrides what the host may allocate (`HostMemory`), as
    /// `overrideVariable` does the device's: to test the plan's host side.
    public static let hostOverrideVariable = "STYLIZE_GPU_HOST_MEMORY"

    /// `HostMemory.available()`, or the override from the environment.
    public static func hostMemory(
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> UInt64 {
        guard let text = environment[hostOverrideVariable], !text.isEmpty else { return HostMemory.available() }
        guard let bytes = parseBytes(text) else {
            throw StyleError("\(hostOverrideVariable)=\(text) is not a size; use e.g. 512M, 2G or a number of bytes")
        }
        return bytes
    }

    static func parseBytes(_ text: String) -> UInt64? {
        let units: [Character: UInt64] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40]
        var digits = text.uppercased().trimmingCharacters(in: .whitespaces)
        if digits.hasSuffix("IB") { digits.removeLast(2) } else if digits.hasSuffix("B") { digits.removeLast() }
        var multiplier: UInt64 = 1
        if let last = digits.last, let unit = units[last] {
            multiplier = unit
            digits.removeLast()
        }
        guard let value = Double(digits), value > 0, value * Double(multiplier) < 1.8e19 else { return nil }
        return UInt64(value * Double(multiplier))
    }
}

extension OpenCLBackend {
    public var memoryCapacity: MemoryCapacity {
        let info = context.device.info
        // A CPU device's memory is this process's host memory, with the process's limits.
        let total = info.kind == .cpu ? min(info.globalMemoryBytes, HostMemory.available()) : info.globalMemoryBytes
        return MemoryCapacity(
            totalBytes: total, largestBufferBytes: min(info.maxAllocationBytes, total),
            sharesHostMemory: info.kind == .cpu)
    }

    /// The padded layouts and the padded bias of `OpenCLConvWeights`.
    public func convWeightBytes(outputChannels: Int, inputChannels: Int) -> Int {
        OpenCLConvWeights.layoutFloats(outputChannels: outputChannels, inputChannels: inputChannels, options: options)
            * MemoryLayout<Float>.size
    }

    /// The fixed buffers made at start-up, the Gram scratch and the Winograd scratch at their largest.
    public func scratchBytes(convolutions: [ConvolutionShape], grams: [Shape]) -> Int {
        let fixed = unusedBuffer.count + reductionPartials.count + dotResult.count
        let partials = grams.map { gramSplit(pixels: $0.pixels).slices * $0.c * $0.c }.max() ?? 0
        let symmetric = grams.map { options.gramSymmetricRows(channels: $0.c) * $0.c }.max() ?? 0
        let block = options.channelBlock
        let padded = { (channels: Int) in (channels + block - 1) / block * block }
        let winograd = convolutions.filter {
            OpenCLConvWeights.usesWinograd(
                outputChannels: $0.outputChannels, inputChannels: $0.inputChannels,
                options: options)
        }
        // Forward (inputs → outputs) and backward-data (outputs → inputs) of each Winograd layer.
        let tile = { (shape: ConvolutionShape) in
            self.options.winogradTile(height: shape.height, width: shape.width)
        }
        // At one width and tile a taller map's bands hold as many tile rows or more, and split
        // where a shorter one does; but a shorter map may run a smaller tile, whose scratch a pixel
        // is larger (16/4 floats a channel against 36/16 and 64/36). So a shape covering shorter
        // maps stands for itself and the tallest map of its width under each tile's threshold.
        let maps = { (shape: ConvolutionShape) -> [ConvolutionShape] in
            guard shape.coversShorterMaps else { return [shape] }
            let thresholds = [ConvolutionShape.winograd4MinimumPixels, ConvolutionShape.winograd6MinimumPixels]
            return [shape]
                + thresholds.map { min(shape.height, ($0 - 1) / max(shape.width, 1)) }.filter { $0 > 0 }.map {
                    var map = shape
                    map.height = $0
                    return map
                }
        }
        let bands = winograd.flatMap(maps).flatMap { shape in
            [(shape.inputChannels, shape.outputChannels), (shape.outputChannels, shape.inputChannels)].map {
                from, to in
                let bands = WinogradBands(
                    height: shape.height, width: shape.width, channels: from, outputStride: padded(to),
                    tile: tile(shape), options: options)
                let floats = bands.scratchFloats(channels: from, outputStride: padded(to))
                let halves = splitsInHalves(bands, channels: from, outputStride: padded(to))
                return (input: floats.input, products: floats.products, halves: halves)
            }
        }
        // A convolution split between the half queues takes two halves of the scratch.
        let halved = { (floats: Int, halves: Bool) in
            halves ? CLScratchBuffer.halvesFloats(floats, alignment: self.context.subBufferAlignment) : floats
        }
        let transformed = bands.map { halved($0.input, $0.halves) }.max() ?? 0
        let products = bands.map { halved($0.products, $0.halves) }.max() ?? 0
        let transformFloats = { (shape: ConvolutionShape) in
            (tile(shape) + 2) * (tile(shape) + 2)
                * WinogradBands.plane(rows: padded(shape.inputChannels), tileStride: padded(shape.outputChannels))
        }
        // Shared scratch for the largest, or with WINO_CACHE each layer's own per direction, as
        // large as its largest tile at any of the sizes it runs at.
        let weightTransforms =
            options.winogradCachesWeights
            ? Dictionary(grouping: winograd, by: \.layer).values.reduce(0) {
                $0 + 2 * ($1.map(transformFloats).max() ?? 0)
            }
            : winograd.map(transformFloats).max() ?? 0
        return (fixed + partials + symmetric + weightTransforms + transformed + products) * MemoryLayout<Float>.size
    }
}

extension NativeBackend {
    public var memoryCapacity: MemoryCapacity {
        let memory = HostMemory.available()
        return MemoryCapacity(totalBytes: memory, largestBufferBytes: memory, sharesHostMemory: true)
    }

    /// The layouts the layer's plan needs (im2col: forward and flipped; Winograd: the 16
    /// transforms), and the bias.
    public func convWeightBytes(outputChannels: Int, inputChannels: Int) -> Int {
        convPlan(outputChannels: outputChannels, inputChannels: inputChannels)
            .weightFloats(outputChannels: outputChannels, inputChannels: inputChannels) * MemoryLayout<Float>.size
    }

    /// None: the native scratch (im2col columns) is host memory outside the device accounting.
    public func scratchBytes(convolutions: [ConvolutionShape], grams: [Shape]) -> Int { 0 }
}
