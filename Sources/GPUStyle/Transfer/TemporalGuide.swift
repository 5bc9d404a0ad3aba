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
    public static func compute(
        backend: Backend, previousContent: RGBImage, content: RGBImage, previousResult: RGBImage,
        weight: Float, maxSide: Int
    ) throws -> TemporalGuide {
        // Placeholder until the optical-flow ops land (issue 21); the video command calls this.
        throw StyleError("the temporal term is not available in this build; use --temporal-weight 0")
    }
}
