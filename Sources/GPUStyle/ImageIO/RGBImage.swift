/// An RGB image as the style-transfer engine holds it: planar CHW, three planes (R, G, B) of
/// `height` rows of `width` values, in 0…255 units as `Float`. This is exactly the layout that
/// is uploaded as the optimised variable `x` (3×H×W). Values are not clamped; writers clamp.
public struct RGBImage: Equatable, Sendable {
    public var width: Int
    public var height: Int
    /// `3 * height * width` values: plane `c` starts at `c * height * width`, row `y` of a
    /// plane at `y * width`.
    public var pixels: [Float]

    /// Wraps existing planar pixels; `pixels.count` must be `3 * width * height`.
    public init(width: Int, height: Int, pixels: [Float]) {
        precondition(
            width >= 0 && height >= 0 && pixels.count == 3 * width * height,
            "RGBImage: \(pixels.count) values for \(width)×\(height)")
        self.width = width
        self.height = height
        self.pixels = pixels
    }

    /// An image of one colour (default white).
    public init(width: Int, height: Int, red: Float = 255, green: Float = 255, blue: Float = 255) {
        let plane = width * height
        self.init(
            width: width, height: height,
            pixels: [Float](repeating: red, count: plane)
                + [Float](repeating: green, count: plane)
                + [Float](repeating: blue, count: plane))
    }

    /// Number of values in one plane (`width * height`).
    public var planeSize: Int { width * height }

    /// The value of channel `channel` (0 R, 1 G, 2 B) at column `x`, row `y`.
    public subscript(channel: Int, y: Int, x: Int) -> Float {
        get { pixels[(channel * height + y) * width + x] }
        set { pixels[(channel * height + y) * width + x] = newValue }
    }
}
