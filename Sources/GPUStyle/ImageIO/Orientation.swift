extension RGBImage {
    /// The image as it should be displayed given an EXIF orientation tag (TIFF tag 0x0112):
    /// 1 as stored, 2 mirrored left–right, 3 rotated 180°, 4 mirrored top–bottom, 5 transposed
    /// (mirrored along the main diagonal), 6 rotated 90° clockwise, 7 transversed (mirrored along
    /// the anti-diagonal), 8 rotated 90° counter-clockwise. Other values leave it unchanged.
    public func applyingEXIFOrientation(_ orientation: Int) -> RGBImage {
        guard (2...8).contains(orientation) else {
            return self
        }
        let w = width, h = height
        let swapsSides = orientation >= 5
        let outWidth = swapsSides ? h : w
        let outHeight = swapsSides ? w : h
        // For an output pixel (x, y), the stored pixel it shows.
        let source: (Int, Int) -> (x: Int, y: Int)
        switch orientation {
        case 2: source = { x, y in (w - 1 - x, y) }
        case 3: source = { x, y in (w - 1 - x, h - 1 - y) }
        case 4: source = { x, y in (x, h - 1 - y) }
        case 5: source = { x, y in (y, x) }
        case 6: source = { x, y in (y, h - 1 - x) }
        case 7: source = { x, y in (w - 1 - y, h - 1 - x) }
        default: source = { x, y in (w - 1 - y, x) }
        }
        let plane = planeSize
        var out = [Float](repeating: 0, count: 3 * plane)
        pixels.withUnsafeBufferPointer { input in
            out.withUnsafeMutableBufferPointer { output in
                for y in 0..<outHeight {
                    for x in 0..<outWidth {
                        let (sx, sy) = source(x, y)
                        for c in 0..<3 {
                            output[c * plane + y * outWidth + x] = input[c * plane + sy * w + sx]
                        }
                    }
                }
            }
        }
        return RGBImage(width: outWidth, height: outHeight, pixels: out)
    }
}
