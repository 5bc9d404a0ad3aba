@testable import GPUStyle
import XCTest

final class ImageIOResizeTests: XCTestCase {
    func testConstantImageStaysConstantAtAnyScale() {
        let image = RGBImage(width: 13, height: 7, red: 10, green: 128.5, blue: 250)
        for (width, height) in [(5, 3), (13, 20), (31, 4), (1, 1), (7, 7)] {
            let resized = image.resized(width: width, height: height)
            XCTAssertEqual(resized.width, width)
            XCTAssertEqual(resized.height, height)
            let plane = width * height
            for (c, value) in [Float(10), 128.5, 250].enumerated() {
                for v in resized.pixels[(c * plane)..<((c + 1) * plane)] {
                    XCTAssertEqual(v, value, accuracy: 1e-3, "\(width)×\(height)")
                }
            }
        }
    }

    func testHalvingIsTheExactMeanOfEach2x2Block() {
        let image = randomImage(width: 10, height: 6, seed: 7)
        let half = image.resized(width: 5, height: 3)
        for c in 0..<3 {
            for y in 0..<3 {
                for x in 0..<5 {
                    let mean =
                        (image[c, 2 * y, 2 * x] + image[c, 2 * y, 2 * x + 1]
                            + image[c, 2 * y + 1, 2 * x] + image[c, 2 * y + 1, 2 * x + 1]) / 4
                    XCTAssertEqual(half[c, y, x], mean)
                }
            }
        }
    }

    func testShrinkingWeighsPartlyCoveredPixelsByCoverage() {
        // 3 → 2: output 0 covers pixel 0 and half of pixel 1; output 1 the other half and pixel 2.
        let row = RGBImage(width: 3, height: 1, pixels: [0, 3, 6, 0, 0, 0, 0, 0, 0])
        let shrunk = row.resized(width: 2, height: 1)
        XCTAssertEqual(shrunk.pixels[0], 1, accuracy: 1e-5)
        XCTAssertEqual(shrunk.pixels[1], 5, accuracy: 1e-5)
    }

    func testEnlargingIsCatmullRom() {
        // Catmull-Rom reproduces straight lines exactly away from the edges, and at 2× the
        // samples fall at quarter positions between source pixels.
        let ramp = RGBImage(
            width: 8, height: 1, pixels: (0..<8).map { Float($0) * 10 } + [Float](repeating: 0, count: 16))
        let doubled = ramp.resized(width: 16, height: 1)
        for x in 3..<13 {
            XCTAssertEqual(doubled.pixels[x], (Float(x) + 0.5) / 2 * 10 - 5, accuracy: 1e-4, "x \(x)")
        }
        // On a step 0 0 100 100 at 2×, output 2 sits at source 0.75: 100·k(1.25) = -7.03125 (the
        // undershoot of a = -0.5); output 3 at 1.25: 100·(k(0.75) + k(1.75)) = 20.3125.
        let step = RGBImage(width: 4, height: 1, pixels: [0, 0, 100, 100] + [Float](repeating: 0, count: 8))
        let enlarged = step.resized(width: 8, height: 1)
        XCTAssertEqual(enlarged.pixels[2], -7.03125, accuracy: 1e-3)
        XCTAssertEqual(enlarged.pixels[3], 20.3125, accuracy: 1e-3)
    }

    func testMaxSideKeepsAspectAndRounds() {
        let cases: [((Int, Int), Int, (Int, Int))] = [
            ((300, 200), 100, (100, 67)), ((200, 300), 100, (67, 100)), ((1000, 1), 10, (10, 1)),
            ((3, 1000), 10, (1, 10)), ((64, 48), 128, (128, 96)), ((5, 5), 0, (1, 1)),
        ]
        for ((width, height), side, (expectedWidth, expectedHeight)) in cases {
            let resized = RGBImage(width: width, height: height).resized(maxSide: side)
            XCTAssertEqual(resized.width, expectedWidth, "\(width)×\(height) → \(side)")
            XCTAssertEqual(resized.height, expectedHeight, "\(width)×\(height) → \(side)")
        }
    }
}
