import CLCMS
import Foundation

/// Embedded ICC colour profiles, through Little CMS: inputs are converted to sRGB before use
/// (the network and the user's screen assume sRGB), outputs are tagged sRGB.
enum ColorProfile {
    /// The profile outputs carry (lcms's built-in sRGB), made once.
    static let sRGB: [UInt8] = {
        var bytes: UnsafeMutablePointer<UInt8>?
        var length: UInt32 = 0
        guard clcms_srgb_profile(&bytes, &length) == Int32(CLCMS_OK), let bytes else { return [] }
        defer { free(bytes) }
        return Array(UnsafeBufferPointer(start: bytes, count: Int(length)))
    }()

    /// A parsed profile's transform to sRGB.
    final class Transform {
        fileprivate let handle: OpaquePointer
        /// The profile is for one gray sample a pixel.
        let isGray: Bool
        /// The transform changes no colour by more than half a level: sRGB in effect.
        let isIdentity: Bool
        /// The profile's description ("" when it has none).
        let description: String

        /// Parses `profile`; throws a `StyleError` whose text says why lcms refused it.
        init(profile: [UInt8]) throws {
            var handle: OpaquePointer?
            var gray: Int32 = 0, identity: Int32 = 0
            var text = [CChar](repeating: 0, count: 256), message = [CChar](repeating: 0, count: 256)
            let status = clcms_open(
                profile, profile.count, &handle, &gray, &identity, &text, text.count, &message, message.count)
            guard status == Int32(CLCMS_OK), let handle else {
                throw StyleError(singleLine(String(cString: message)))
            }
            self.handle = handle
            isGray = gray != 0
            isIdentity = identity != 0
            description = singleLine(String(cString: text)).trimmingCharacters(in: .whitespaces)
        }

        deinit { clcms_close(handle) }

        /// Converts `image` in place, a row at a time (no second copy of the image): each row's
        /// samples (gray: the red plane, the decoders having copied gray into all three) to 0…1,
        /// through lcms, back to 0…255, clamped.
        func apply(to image: inout RGBImage) {
            let width = image.width, plane = image.planeSize
            let inputChannels = isGray ? 1 : 3
            var input = [Float](repeating: 0, count: inputChannels * width)
            var output = [Float](repeating: 0, count: 3 * width)
            image.pixels.withUnsafeMutableBufferPointer { pixels in
                for y in 0..<image.height {
                    let row = y * width
                    for x in 0..<width {
                        for c in 0..<inputChannels {
                            input[inputChannels * x + c] = pixels[c * plane + row + x] / 255
                        }
                    }
                    clcms_apply(handle, input, &output, UInt32(width))
                    for x in 0..<width {
                        for c in 0..<3 {
                            pixels[c * plane + row + x] = min(max(output[3 * x + c] * 255, 0), 255)
                        }
                    }
                }
            }
        }
    }

    /// Converts `image` from its embedded `profile` to sRGB and returns the note to show, or nil
    /// when the profile is sRGB in effect. A profile lcms refuses, or one that does not fit the
    /// image (a gray profile on colour data), is ignored with a note: the colours are then used
    /// as stored, as most viewers do.
    static func convertToSRGB(
        _ image: inout RGBImage, profile: [UInt8], sourceIsGray: Bool, path: String
    )
        -> String?
    {
        if profile == sRGB {
            return nil  // our own tag: the colours are exactly what was written
        }
        let transform: Transform
        do {
            transform = try Transform(profile: profile)
        } catch {
            return "\(path): embedded colour profile ignored (\(describe(error))); colours used as stored (sRGB)"
        }
        if transform.isGray && !sourceIsGray {
            return
                "\(path): embedded colour profile ignored (a gray profile on a colour image); colours used as stored (sRGB)"
        }
        if transform.isIdentity {
            return nil
        }
        transform.apply(to: &image)
        let name = transform.description.isEmpty ? "" : " '\(transform.description)'"
        return "\(path): converted from its embedded colour profile\(name) to sRGB"
    }
}
