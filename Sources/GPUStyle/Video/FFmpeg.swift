import Foundation

/// The `ffmpeg` and `ffprobe` commands, found on PATH and run with argument lists (never a
/// shell): a video decoded to PNG frames, its frame rate and audio probed, and frames encoded
/// to .mp4 (H.264) or .webm (VP9) with the source's audio.
public struct FFmpeg: Sendable {
    public let ffmpeg: String
    public let ffprobe: String

    /// What a video file holds, as far as the video command needs it.
    public struct Probe: Equatable, Sendable {
        public var frameRate: FrameRate
        public var hasAudio: Bool
    }

    /// Both commands from `PATH`, or one line that says how to install them; `purpose` says
    /// what they are needed for ("reading the video input.mp4").
    public static func locate(
        purpose: String, environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> FFmpeg {
        guard let ffmpeg = ExternalTool.find("ffmpeg", environment: environment),
            let ffprobe = ExternalTool.find("ffprobe", environment: environment)
        else {
            throw StyleError(
                "\(purpose) needs the ffmpeg and ffprobe commands, which are not on PATH; install them "
                    + "(Debian/Ubuntu: apt-get install ffmpeg) or use a folder of frames")
        }
        return FFmpeg(ffmpeg: ffmpeg, ffprobe: ffprobe)
    }

    /// The frame rate of the first video stream (its average rate, else its base rate) and
    /// whether there is an audio stream.
    public func probe(_ video: String) throws -> Probe {
        let output = try ExternalTool.run(
            ffprobe,
            ["-v", "error", "-show_entries", "stream=codec_type,avg_frame_rate,r_frame_rate", "-of", "json", video],
            what: "reading \(video) with ffprobe")
        struct Streams: Decodable {
            struct Stream: Decodable {
                var codec_type: String?
                var avg_frame_rate: String?
                var r_frame_rate: String?
            }
            var streams: [Stream]?
        }
        let streams = (try? JSONDecoder().decode(Streams.self, from: output))?.streams ?? []
        guard let video = streams.first(where: { $0.codec_type == "video" }) else {
            throw StyleError("\(video): holds no video stream; give a video file or a folder of frames")
        }
        let rate = [video.avg_frame_rate, video.r_frame_rate].compactMap { $0.flatMap(FrameRate.init) }.first
        return Probe(
            frameRate: rate ?? VideoFrames.defaultFrameRate,
            hasAudio: streams.contains { $0.codec_type == "audio" })
    }

    /// Decodes every frame of the first video stream, as it is stored (no frame dropped or
    /// repeated), into `folder` as 8-bit RGB PNG files 000001.png …; returns them in order.
    public func decode(_ video: String, into folder: String) throws -> [String] {
        _ = try ExternalTool.run(
            ffmpeg,
            [
                "-nostdin", "-v", "error", "-i", video, "-map", "0:v:0", "-fps_mode", "passthrough",
                "-pix_fmt", "rgb24", URL(fileURLWithPath: folder).appendingPathComponent("%06d.png").path,
            ],
            what: "decoding \(video) with ffmpeg")
        guard let frames = try? VideoFrames.list(folder: folder) else {
            throw StyleError("\(video): ffmpeg decoded no frames from it")
        }
        return frames
    }

    /// Encodes the first `count` frames `folder/00001.png` … (`VideoFrames.frameName`) at `rate` into
    /// `output` (.mp4: H.264, .webm: VP9; sides padded to even numbers, 4:2:0), with the first
    /// audio stream of `audioFrom` re-encoded (AAC, Opus) when given; written atomically.
    public func encode(frames folder: String, count: Int, rate: FrameRate, to output: String, audioFrom: String?) throws
    {
        let webm = URL(fileURLWithPath: output).pathExtension.lowercased() == "webm"
        var arguments = [
            "-nostdin", "-v", "error", "-y", "-framerate", rate.description, "-start_number", "1", "-i",
            URL(fileURLWithPath: folder).appendingPathComponent(VideoFrames.framePattern).path,
        ]
        if let audioFrom { arguments += ["-i", audioFrom, "-map", "0:v:0", "-map", "1:a:0", "-shortest"] }
        arguments += ["-frames:v", "\(count)", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"]
        arguments +=
            webm
            ? ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", "-row-mt", "1"]
                + (audioFrom == nil ? [] : ["-c:a", "libopus"])
                + ["-f", "webm"]
            : ["-c:v", "libx264", "-crf", "18"] + (audioFrom == nil ? [] : ["-c:a", "aac"]) + ["-f", "mp4"]
        try AtomicOutput.write(to: output) { temporary in
            _ = try ExternalTool.run(ffmpeg, arguments + [temporary], what: "encoding \(output) with ffmpeg")
        }
    }
}
