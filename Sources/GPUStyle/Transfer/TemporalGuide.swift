import Foundation

/// The temporal term of one video frame (Ruder, Dosovitskiy & Brox 2016): the previous frame's
/// result warped into this frame by optical flow, and where that warp can be trusted. A frame's
/// `StyleJob` starts from `warped` and adds weight × mean over reliable pixels of (x − warped)².
public struct TemporalGuide: Sendable {
    /// The previous result warped to this frame, at the size `compute` worked at.
    public var warped: RGBImage
    /// `warped.width × warped.height` values: 1 where the flow is reliable, 0 where the pixel
    /// was occluded, disoccluded or on a motion boundary.
    public var reliability: [Float]
    /// `--temporal-weight`.
    public var weight: Float

    public init(warped: RGBImage, reliability: [Float], weight: Float) {
        self.warped = warped
        self.reliability = reliability
        self.weight = weight
    }

    /// Flow between `previousContent` and `content` (both ways, on `backend`, at most `maxSide`
    /// pixels on the longer side), the previous result warped along it, and the reliability mask.
    /// The working size is the content's, reduced to `maxSide`; the other two images are resized
    /// to it.
    public static func compute(
        backend: Backend, previousContent: RGBImage, content: RGBImage, previousResult: RGBImage,
        weight: Float, maxSide: Int, flow method: OpticalFlow = OpticalFlow()
    ) throws -> TemporalGuide {
        guard content.width > 0, content.height > 0 else {
            throw StyleError("the frame is empty; every video frame needs at least one pixel")
        }
        let size =
            max(content.width, content.height) <= maxSide
            ? (width: content.width, height: content.height)
            : RGBImage.size(width: content.width, height: content.height, maxSide: maxSide)
        func atSize(_ image: RGBImage) -> RGBImage {
            image.width == size.width && image.height == size.height
                ? image : image.resized(width: size.width, height: size.height)
        }
        let gray = Shape(c: 1, h: size.height, w: size.width)
        let (current, previous) = (try backend.makeTensor(gray), try backend.makeTensor(gray))
        try backend.upload(OpticalFlow.luminance(atSize(content)), to: current)
        try backend.upload(OpticalFlow.luminance(atSize(previousContent)), to: previous)
        // w: this frame → the previous one (where each pixel was); ŵ: the other way.
        let flow = try method.flow(backend: backend, from: current, to: previous)
        let reverse = try method.flow(backend: backend, from: previous, to: current)
        let result = try backend.makeTensor(Shape(c: 3, h: size.height, w: size.width))
        try backend.upload(atSize(previousResult).pixels, to: result)
        let warped = try backend.makeTensor(result.shape)
        try backend.warpBilinear(result, flow: flow, output: warped)
        let reverseWarped = try backend.makeTensor(flow.shape)
        try backend.warpBilinear(reverse, flow: flow, output: reverseWarped)
        let mask = try backend.makeTensor(gray)
        try backend.reliabilityMask(flow: flow, backwardFlow: reverseWarped, output: mask)
        return TemporalGuide(
            warped: RGBImage(width: size.width, height: size.height, pixels: try backend.download(warped)),
            reliability: try backend.download(mask), weight: weight)
    }

    /// The reliability mask at another size, nearest neighbour (pixel centres), so it stays 0 or 1.
    public func reliability(width: Int, height: Int) -> [Float] {
        let (w, h) = (warped.width, warped.height)
        if w == width && h == height { return reliability }
        var mask = [Float](repeating: 0, count: width * height)
        for i in 0..<height {
            let y = min(h - 1, Int((Double(i) + 0.5) * Double(h) / Double(height)))
            for j in 0..<width {
                let x = min(w - 1, Int((Double(j) + 0.5) * Double(w) / Double(width)))
                mask[i * width + j] = reliability[y * w + x]
            }
        }
        return mask
    }
}
