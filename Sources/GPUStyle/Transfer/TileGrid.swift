/// The tiles of one tiled evaluation (docs/DESIGN.md, "Tiled evaluation"): the image cut along
/// lines `tileSize` apart, shifted by an offset, into interiors that cover every pixel exactly
/// once, each widened by `halo` pixels of context on every side that is not the image's edge.
/// Cuts, offsets and the halo are multiples of `alignment`, the network's total pooling factor,
/// so every interior and tile maps to a whole region at every layer (`PlaneRegion.pooled`).
public struct TileGrid: Equatable, Sendable {
    /// 2⁴: the pooling factor of layers up to relu5_1 (pool5 is never run before a loss layer).
    public static let alignment = 16

    public let height: Int
    public let width: Int
    /// Side of an interior (the last in a row or column ends at the image's edge).
    public let tileSize: Int
    public let halo: Int

    /// One unit of work: its interior (whose features and gradient it owns) and its region
    /// (the interior and its halo, clipped to the image: what its network runs on).
    public struct Tile: Equatable, Sendable {
        public var interior: PlaneRegion
        public var region: PlaneRegion
    }

    /// - Throws: when the tile size or halo is not a positive multiple of `alignment` (internal:
    ///   options are validated before).
    public init(height: Int, width: Int, tileSize: Int, halo: Int) throws {
        let a = TileGrid.alignment
        guard tileSize >= a, tileSize % a == 0, halo >= a, halo % a == 0, height >= 1, width >= 1 else {
            throw StyleError(
                "internal error: tiles of \(tileSize) px + \(halo) px halo over \(width)×\(height) (multiples of \(a) needed)"
            )
        }
        self.height = height
        self.width = width
        self.tileSize = tileSize
        self.halo = halo
    }

    /// The largest tile region at any offset.
    public var largestTile: (height: Int, width: Int) {
        (min(height, tileSize + 2 * halo), min(width, tileSize + 2 * halo))
    }

    /// Rows and columns of tiles at offset zero.
    public var counts: (rows: Int, columns: Int) {
        ((height + tileSize - 1) / tileSize, (width + tileSize - 1) / tileSize)
    }

    /// The tiles, row by row, with the cuts at offset.y + k·tileSize and offset.x + k·tileSize.
    public func tiles(offset: PlanePoint = PlanePoint(y: 0, x: 0)) -> [Tile] {
        let rows = TileGrid.cuts(length: height, size: tileSize, offset: offset.y)
        let columns = TileGrid.cuts(length: width, size: tileSize, offset: offset.x)
        return rows.flatMap { r in
            columns.map { c in
                let (top, bottom) = (max(0, r.lowerBound - halo), min(height, r.upperBound + halo))
                let (left, right) = (max(0, c.lowerBound - halo), min(width, c.upperBound + halo))
                return Tile(
                    interior: PlaneRegion(y: r.lowerBound, x: c.lowerBound, height: r.count, width: c.count),
                    region: PlaneRegion(y: top, x: left, height: bottom - top, width: right - left))
            }
        }
    }

    /// Over every offset, the most the tiles' regions add up to at a layer `factor` times smaller:
    /// Σ ⌊region height / factor⌋ over a column of tiles, Σ ⌊region width / factor⌋ over a row,
    /// and the most columns of tiles (what keeping each tile's activations takes).
    public func largestRegions(pooledBy factor: Int) -> (height: Int, width: Int, columns: Int) {
        /// Over every offset along one side: the most Σ ⌊region length / factor⌋, and pieces.
        func largest(_ length: Int) -> (sum: Int, pieces: Int) {
            regionLengths(length).reduce((0, 0)) { best, lengths in
                (max(best.0, lengths.reduce(0) { $0 + $1 / factor }), max(best.1, lengths.count))
            }
        }
        let (rows, columns) = (largest(height), largest(width))
        return (rows.sum, columns.sum, columns.pieces)
    }

    /// Over every offset, the tallest region a tile has and every width one has (what its
    /// network runs on).
    public var regionSizes: (tallest: Int, widths: [Int]) {
        (regionLengths(height).joined().max() ?? 0, Set(regionLengths(width).joined()).sorted())
    }

    /// Along a side of `length`, at each offset, its tiles' region lengths.
    private func regionLengths(_ length: Int) -> [[Int]] {
        stride(from: 0, to: tileSize, by: TileGrid.alignment).map { offset in
            TileGrid.cuts(length: length, size: tileSize, offset: offset).map {
                min(length, $0.upperBound + halo) - max(0, $0.lowerBound - halo)
            }
        }
    }

    /// 0..<length cut at offset + k·size (offset taken modulo size): consecutive, non-empty pieces.
    static func cuts(length: Int, size: Int, offset: Int) -> [Range<Int>] {
        let shift = ((offset % size) + size) % size
        var pieces: [Range<Int>] = []
        var start = 0
        var end = shift == 0 ? size : shift
        while start < length {
            pieces.append(start..<min(end, length))
            start = min(end, length)
            end += size
        }
        return pieces
    }

    /// The grid's shift at one iteration: multiples of `alignment` below `tileSize` drawn from
    /// the seed, the scale and the iteration alone, so a resumed run cuts exactly as the
    /// uninterrupted one and no tile boundary sits still from one iteration to the next.
    public func offset(seed: UInt64, scale: Int, iteration: Int) -> PlanePoint {
        var generator = SplitMix64(
            seed: seed ^ (UInt64(truncatingIfNeeded: scale) &* 0xD6E8_FEB8_6659_FD93)
                ^ (UInt64(truncatingIfNeeded: iteration) &* 0xA076_1D64_78BD_642F))
        let steps = UInt64(tileSize / TileGrid.alignment)
        let y = Int(generator.next() % steps), x = Int(generator.next() % steps)
        return PlanePoint(y: y * TileGrid.alignment, x: x * TileGrid.alignment)
    }
}

extension PlaneRegion {
    /// The region at a layer whose planes are `factor` times smaller (its pooling so far):
    /// ⌊start/f⌋ ..< ⌊end/f⌋ each way, exact for a region that starts at a multiple of f, as
    /// pooling floors (an odd last row belongs to no window).
    public func pooled(by factor: Int) -> PlaneRegion {
        let (top, left) = (y / factor, x / factor)
        return PlaneRegion(
            y: top, x: left, height: (y + height) / factor - top, width: (x + width) / factor - left)
    }
}
