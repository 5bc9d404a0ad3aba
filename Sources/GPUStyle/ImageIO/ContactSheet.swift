/// The images side by side, each scaled (aspect kept, `RGBImage.resized(width:height:)`) to
/// `height` pixels, left to right in the given order, `gap` white pixels between neighbours,
/// on white. An empty list gives a white 1×`height` image; `height` below 1 is taken as 1 and a
/// negative gap as 0.
public func contactSheet(_ images: [RGBImage], height: Int, gap: Int) -> RGBImage {
    let height = max(1, height), gap = max(0, gap)
    let scaled = images.map { image -> RGBImage in
        let width = image.height > 0 ? Int((Double(image.width) * Double(height) / Double(image.height)).rounded()) : 1
        return image.resized(width: max(1, width), height: height)
    }
    let width = max(1, scaled.reduce(0) { $0 + $1.width } + gap * max(0, scaled.count - 1))
    var sheet = RGBImage(width: width, height: height)
    var left = 0
    let plane = sheet.planeSize
    for image in scaled {
        for c in 0..<3 {
            for y in 0..<height {
                let source = (c * height + y) * image.width
                let target = c * plane + y * width + left
                sheet.pixels.replaceSubrange(
                    target..<(target + image.width),
                    with: image.pixels[source..<(source + image.width)])
            }
        }
        left += image.width + gap
    }
    return sheet
}
