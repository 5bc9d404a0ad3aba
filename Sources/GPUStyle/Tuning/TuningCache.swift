import Foundation
import Kernels

/// What a tuning is valid for: the device, its driver and the kernels it was measured with. A new
/// driver or a changed Kernels.cl makes an old tuning stale.
public struct TuningKey: Codable, Equatable, Sendable {
    public var device: String
    public var platform: String
    public var driverVersion: String
    /// SHA-256 of Kernels.cl's text.
    public var kernelSHA256: String

    public init(device: CLDeviceInfo, kernelSource: String = KernelLibrary.source) {
        self.device = device.name
        platform = device.platformName
        driverVersion = device.driverVersion
        kernelSHA256 = SHA256.hex(of: Array(kernelSource.utf8))
    }

    /// Why a tuning made for `self` does not apply to `current`, or nil when it does.
    func mismatch(with current: TuningKey) -> String? {
        if device != current.device || platform != current.platform {
            return "it was made for \(device) on \(platform)"
        }
        if driverVersion != current.driverVersion {
            return "it was made with driver \(driverVersion), this is \(current.driverVersion)"
        }
        if kernelSHA256 != current.kernelSHA256 { return "it was made for another version of Kernels.cl" }
        return nil
    }
}

/// One op at one shape, timed with the default options and with the tuned ones.
public struct TunedOpTime: Codable, Equatable, Sendable {
    public var layer: String
    public var op: String
    public var defaultMilliseconds: Double
    public var tunedMilliseconds: Double
}

/// The content of a device's tuning file.
public struct TuningRecord: Codable, Equatable, Sendable {
    public var key: TuningKey
    /// When the tuning ran, ISO 8601, UTC.
    public var date: String
    /// The measured shapes: VGG19 layers of a `imageSize`×`imageSize` image.
    public var imageSize: Int
    public var layers: [String]
    /// The winning value of every tunable define the search visited; the run lays them over
    /// `ProgramOptions.defaults(for:)`.
    public var defines: [String: Int]
    /// Sums over `times`.
    public var defaultMilliseconds: Double
    public var tunedMilliseconds: Double
    public var times: [TunedOpTime]

    /// Default time over tuned time on the measured ops (above 1: the tuning is faster).
    public var speedup: Double { tunedMilliseconds > 0 ? defaultMilliseconds / tunedMilliseconds : 1 }

    /// The same record with the `searched` defines at `defaults`' values and the defaults' times
    /// as the tuned ones: what `tune` stores when the options it found ran slower than the
    /// defaults, timed side by side (one define at a time, noise can pick a loser).
    func keepingDefaults(for searched: [String], defaults: ProgramOptions) -> TuningRecord {
        var record = self
        for name in searched { record.defines[name] = defaults.defines[name] }
        record.times = times.map { time in
            var time = time
            time.tunedMilliseconds = time.defaultMilliseconds
            return time
        }
        record.tunedMilliseconds = record.defaultMilliseconds
        return record
    }

    /// The record's defines over the device's defaults.
    public func options(for device: CLDeviceInfo) -> ProgramOptions {
        var options = ProgramOptions.defaults(for: device)
        options.defines.merge(defines) { _, tuned in tuned }
        return options
    }
}

/// The kernel options a run uses on a device: the tuning `stylize-gpu tune` stored, or the defaults.
public enum TuningLookup: Equatable {
    /// No tuning file: the defaults.
    case none
    /// STYLIZE_GPU_NO_TUNING is set: the defaults.
    case disabled
    case tuned(ProgramOptions, path: String)
    /// A file that cannot be used (corrupt, stale, invalid values): the defaults, and a note.
    case ignored(path: String, reason: String)

    /// The options to build with.
    public func options(for device: CLDeviceInfo) -> ProgramOptions {
        if case .tuned(let options, _) = self { return options }
        return ProgramOptions.defaults(for: device)
    }

    /// The one-line note a run prints about its kernel options, or nil when there is nothing to say.
    public var note: String? {
        switch self {
        case .none, .disabled:
            return nil
        case .tuned(_, let path):
            return "kernel options: tuned by `stylize-gpu tune` (\(path); \(TuningCache.disableVariable)=1 ignores it)"
        case .ignored(let path, let reason):
            return "note: ignoring the kernel tuning \(path): \(reason); using the defaults. "
                + "Run `stylize-gpu tune` to refresh it"
        }
    }
}

/// The tuning files: one JSON file per device in `<cache folder>/tuning/`.
public enum TuningCache {
    /// Set to anything but "" or "0" to run with the default options (for A/B comparisons).
    public static let disableVariable = "STYLIZE_GPU_NO_TUNING"

    public static func folder(environment: [String: String] = ProcessInfo.processInfo.environment) -> String {
        (WeightsCache.cacheDirectory(environment: environment) as NSString).appendingPathComponent("tuning")
    }

    /// The device's file: named after platform and device, so a new driver or Kernels.cl finds the
    /// old file and says it is stale (the key inside tells).
    public static func path(
        for device: CLDeviceInfo,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> String {
        let name = "\(device.platformName)-\(device.name)".lowercased().map { character -> Character in
            character.isASCII && (character.isLetter || character.isNumber) ? character : "-"
        }
        let compact = String(name).split(separator: "-").joined(separator: "-")
        return (folder(environment: environment) as NSString).appendingPathComponent("\(compact).json")
    }

    /// The options a run on `device` should use.
    public static func lookup(
        _ device: CLDeviceInfo, kernelSource: String = KernelLibrary.source,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> TuningLookup {
        if let flag = environment[disableVariable], !flag.isEmpty, flag != "0" { return .disabled }
        switch stored(device, kernelSource: kernelSource, environment: environment) {
        case .missing: return .none
        case let .unusable(path, reason): return .ignored(path: path, reason: reason)
        case let .valid(record, path): return .tuned(record.options(for: device), path: path)
        }
    }

    /// The device's tuning file as stored (whatever STYLIZE_GPU_NO_TUNING says).
    public enum Stored {
        case missing(path: String)
        /// Corrupt, unreadable, stale (another device, driver or Kernels.cl) or with invalid values.
        case unusable(path: String, reason: String)
        case valid(TuningRecord, path: String)
    }

    public static func stored(
        _ device: CLDeviceInfo, kernelSource: String = KernelLibrary.source,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) -> Stored {
        let path = self.path(for: device, environment: environment)
        guard FileManager.default.fileExists(atPath: path) else { return .missing(path: path) }
        let record: TuningRecord
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            record = try JSONDecoder().decode(TuningRecord.self, from: data)
        } catch is DecodingError {
            return .unusable(path: path, reason: "it is corrupt or from another version")
        } catch {
            return .unusable(path: path, reason: "it cannot be read (\(describe(error)))")
        }
        if let reason = record.key.mismatch(with: TuningKey(device: device, kernelSource: kernelSource)) {
            return .unusable(path: path, reason: reason)
        }
        do {
            try record.options(for: device).validate(for: device)
        } catch {
            return .unusable(path: path, reason: describe(error))
        }
        return .valid(record, path: path)
    }

    /// Writes `record` as the device's tuning, atomically (a reader sees the old file or the new
    /// one, an interrupted write leaves neither a partial file nor its temporary); returns the path.
    @discardableResult
    public static func write(
        _ record: TuningRecord, for device: CLDeviceInfo,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws -> String {
        let destination = path(for: device, environment: environment)
        let folder = (destination as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        } catch {
            throw StyleError("cannot create the tuning folder \(folder): \(describe(error))")
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(record)
        try AtomicOutput.write(to: destination) { temporary in
            do {
                try data.write(to: URL(fileURLWithPath: temporary))
            } catch {
                throw StyleError("cannot write the tuning file \(destination): \(describe(error))")
            }
        }
        return destination
    }
}
