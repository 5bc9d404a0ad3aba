import Foundation

/// The `ffmpeg` and `ffprobe` commands, found on PATH and run with argument lists (never a
/// shell): a video decoded to PNG frames, its frame rate and audio probed, and frames encoded
/// to .mp4 (H.264) or .webm (VP9) with the source's audio (copied when the container takes its
/// codec, else re-encoded).
public struct FFmpeg: Sendable {
    public let ffmpeg: String
    public let ffprobe: String

    /// What a video file holds, as far as the video command needs it.
    public struct Probe: Equatable, Sendable {
        public var frameRate: FrameRate
        /// The codec of the first audio stream ("aac"), nil without audio.
        public var audioCodec: String?
    }

    /// The audio codecs each output container takes as they are; others are re-encoded.
    static let copiedAudio: [String: Set<String>] = [
        "mp4": ["aac", "mp3", "ac3", "eac3", "alac"], "webm": ["opus", "vorbis"],
    ]

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
    /// the first audio stream's codec.
    public func probe(_ video: String) throws -> Probe {
        let output = try ExternalTool.run(
            ffprobe,
            [
                "-v", "error", "-show_entries", "stream=codec_type,codec_name,avg_frame_rate,r_frame_rate", "-of",
                "json", video,
            ],
            what: "reading \(video) with ffprobe")
        return try Self.parseProbe(output, video: video)
    }

    /// Reads ffprobe's JSON (`-of json`, the streams' codec_type, codec_name, avg_frame_rate and
    /// r_frame_rate): output that is not such JSON is a video without a video stream.
    static func parseProbe(_ output: Data, video: String) throws -> Probe {
        struct Streams: Decodable {
            struct Stream: Decodable {
                var codec_type: String?
                var codec_name: String?
                var avg_frame_rate: String?
                var r_frame_rate: String?
            }
            var streams: [Stream]?
        }
        let streams = (try? JSONDecoder().decode(Streams.self, from: output))?.streams ?? []
        guard let stream = streams.first(where: { $0.codec_type == "video" }) else {
            throw StyleError("\(video): holds no video stream; give a video file or a folder of frames")
        }
        let rate = [stream.avg_frame_rate, stream.r_frame_rate].compactMap { $0.flatMap(FrameRate.init) }.first
        let audio = streams.first { $0.codec_type == "audio" }
        return Probe(
            frameRate: rate ?? VideoFrames.defaultFrameRate, audioCodec: audio.map { $0.codec_name ?? "unknown" })
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
    /// audio stream of `audio` (a file and its codec) when given: copied when the container
    /// takes its codec, else re-encoded (AAC, Opus). Written atomically.
    public func encode(
        frames folder: String, count: Int, rate: FrameRate, to output: String, audio: (path: String, codec: String)?
    ) throws {
        let container = URL(fileURLWithPath: output).pathExtension.lowercased()
        let webm = container == "webm"
        let audioCodec = audio.map {
            FFmpeg.copiedAudio[container]?.contains($0.codec) == true ? "copy" : webm ? "libopus" : "aac"
        }
        var arguments = [
            "-nostdin", "-v", "error", "-y", "-framerate", rate.description, "-start_number", "1", "-i",
            URL(fileURLWithPath: folder).appendingPathComponent(VideoFrames.framePattern).path,
        ]
        if let audio { arguments += ["-i", audio.path, "-map", "0:v:0", "-map", "1:a:0"] }
        // trim: exactly `count` frames, though an earlier, longer input may have left more (a
        // filter, since -frames:v drops copied audio and -shortest cuts video to shorter audio).
        arguments += ["-vf", "trim=end_frame=\(count),pad=ceil(iw/2)*2:ceil(ih/2)*2", "-pix_fmt", "yuv420p"]
        arguments +=
            webm
            ? ["-c:v", "libvpx-vp9", "-b:v", "0", "-crf", "31", "-row-mt", "1"]
                + (audioCodec.map { ["-c:a", $0] } ?? [])
                + ["-f", "webm"]
            : ["-c:v", "libx264", "-crf", "18"] + (audioCodec.map { ["-c:a", $0] } ?? []) + ["-f", "mp4"]
        try AtomicOutput.write(to: output) { temporary in
            _ = try ExternalTool.run(ffmpeg, arguments + [temporary], what: "encoding \(output) with ffmpeg")
        }
    }
}
