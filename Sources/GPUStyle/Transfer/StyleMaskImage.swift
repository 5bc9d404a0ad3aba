/// A `--style-masks` or `--style-source-masks` image: its luminance in [0, 1] (white: the style
/// applies), resized to whatever size a scale needs.
struct StyleMaskImage {
    /// The image as read; gray images have R = G = B.
    let image: RGBImage

    static func read(_ path: String, options: StyleJobOptions, note: (String) -> Void) throws -> StyleMaskImage {
        let (image, notes) = try ImageFile.read(path, maxPixels: options.maxPixels)
        notes.forEach(note)
        return StyleMaskImage(image: image)
    }

    /// Whether every pixel is white (1 after conversion): then the mask changes nothing.
    var isWhite: Bool { StyleMaskImage.luminance(image).allSatisfy { $0 == 1 } }

    /// Values in [0, 1]: gray as is, colour as Rec. 601 luma (0.299 R + 0.587 G + 0.114 B), / 255,
    /// clamped (the bicubic enlargement may overshoot).
    static func luminance(_ image: RGBImage) -> [Float] {
        let n = image.planeSize
        return (0..<n).map { p in
            let (r, g, b) = (image.pixels[p], image.pixels[n + p], image.pixels[2 * n + p])
            let y = r == g && g == b ? r : 0.299 * r + 0.587 * g + 0.114 * b
            return min(max(y / 255, 0), 1)
        }
    }

    /// The mask at width × height as a 1×H×W tensor on `backend` (stretched when its shape differs).
    func tensor(width: Int, height: Int, _ backend: Backend) throws -> Tensor {
        let sized = image.width == width && image.height == height ? image : image.resized(width: width, height: height)
        let tensor = try backend.makeTensor(Shape(c: 1, h: height, w: width))
        try backend.upload(StyleMaskImage.luminance(sized), to: tensor)
        return tensor
    }
}
