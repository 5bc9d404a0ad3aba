/// `--original-colors`: keeps the result's luminance and takes the colour (chrominance) from the
/// content image, in YIQ space, as neural-style does.
public enum OriginalColors {
    public static func apply(result: RGBImage, content: RGBImage) throws -> RGBImage {
        guard result.width == content.width, result.height == content.height else {
            throw StyleError(
                "internal error: original colours need equal sizes, got \(result.width)×\(result.height) "
                    + "and \(content.width)×\(content.height)")
        }
        let n = result.planeSize
        var pixels = [Float](repeating: 0, count: 3 * n)
        for p in 0..<n {
            let y = 0.299 * result.pixels[p] + 0.587 * result.pixels[n + p] + 0.114 * result.pixels[2 * n + p]
            let (r, g, b) = (content.pixels[p], content.pixels[n + p], content.pixels[2 * n + p])
            let i = 0.595716 * r - 0.274453 * g - 0.321263 * b
            let q = 0.211456 * r - 0.522591 * g + 0.311135 * b
            pixels[p] = y + 0.9563 * i + 0.6210 * q
            pixels[n + p] = y - 0.2721 * i - 0.6474 * q
            pixels[2 * n + p] = y - 1.1070 * i + 1.7046 * q
        }
        return RGBImage(width: result.width, height: result.height, pixels: pixels)
    }
}
