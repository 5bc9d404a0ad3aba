#!/usr/bin/env python3
"""Tiled runs of issue 20 (see benchmarks/README.md, "Tiled runs").

Runs the stylize-gpu binary with argument lists:
  seams  a tiled and an untiled run of the same settings; for each, the mean absolute
         difference across each tile boundary of the final image (between the column or row
         before a cut and the one after it, over every row or column and channel) divided by
         the median of that statistic over every pair of neighbouring columns or rows. A seam
         shows as a ratio well above 1 at the boundaries; the untiled image at the same places
         is the baseline. The boundaries are those of the last iteration's grid (the grid moves
         every iteration: TileGrid.offset, replicated here) and, as a summary, every multiple
         of 16 (where any boundary of any iteration lies). Optionally writes a crop of a
         boundary corner, tiled beside untiled.
  cost   cost per pixel of a tiled iteration against an untiled one at a size that fits both
         ways: interleaved runs (the order alternates every round), each run's median time per
         iteration from its --progress json lines (iterations after the first two), then the
         median over rounds. Tiled twice: --tile-activations recompute and keep. Prints the
         ratios tiled / untiled (same pixels, so per pixel too) and the ratios the work
         predicts (predicted_ratio: regions with their halo, two forward passes and one
         backward per tile, or one of each when kept).
  storage
         tiled runs under a device-memory cap (STYLIZE_GPU_DEVICE_MEMORY) with --storage float
         and --storage half, interleaved: the tiles the plan picks for each (its "tiling:"
         line), the most device memory its progress reports, and each run's median seconds
         per iteration as in cost.
Needs numpy and opencv-python-headless. Prints one JSON object per measurement on stdout.
"""
import argparse
import json
import os
import statistics
import sys

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "benchmarks", "quality"))
from quality import stylize  # noqa: E402  (runs the binary, returns progress, stderr, seconds)
MASK64 = (1 << 64) - 1
ALIGNMENT = 16


def splitmix64(state):
    """One step of SplitMix64 (StyleJob.swift): (new state, output)."""
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


def grid_offset(seed, scale, iteration, tile_size):
    """TileGrid.offset: the grid's shift (y, x) at one iteration."""
    state = seed ^ ((scale * 0xD6E8FEB86659FD93) & MASK64) ^ ((iteration * 0xA0761D6478BD642F) & MASK64)
    state, y = splitmix64(state)
    state, x = splitmix64(state)
    steps = tile_size // ALIGNMENT
    return (y % steps) * ALIGNMENT, (x % steps) * ALIGNMENT


def cuts(length, tile_size, shift):
    """Where TileGrid.cuts starts a new piece after the first (0 < b < length)."""
    start = shift if shift else tile_size
    return list(range(start, length, tile_size))


def pieces(length, tile_size, shift):
    """TileGrid.cuts: the interiors' (start, end) along one side."""
    bounds = cuts(length, tile_size, shift)
    return list(zip([0] + bounds, bounds + [length]))


def neighbour_differences(image, axis):
    """Mean |difference| between each column (axis 1) or row (axis 0) and the one before it;
    entry b is between b - 1 and b (entry 0 unused)."""
    d = np.abs(np.diff(image, axis=axis))
    means = d.mean(axis=(0, 2)) if axis == 1 else d.mean(axis=(1, 2))
    return np.concatenate([[np.nan], means])


def seam_figures(image, boundaries_y, boundaries_x):
    figures = {}
    for name, axis, boundaries in (("columns", 1, boundaries_x), ("rows", 0, boundaries_y)):
        d = neighbour_differences(image, axis)
        median = float(np.nanmedian(d))
        at = d[boundaries] / median if boundaries else np.array([np.nan])
        aligned = d[ALIGNMENT::ALIGNMENT] / median
        figures[name] = {
            "median": median,
            "last_grid_mean_ratio": float(np.mean(at)),
            "last_grid_max_ratio": float(np.max(at)),
            "aligned_mean_ratio": float(np.mean(aligned)),
            "aligned_max_ratio": float(np.max(aligned)),
            "boundaries": boundaries,
        }
    return figures


def read_image(path):
    image = cv2.imread(path, cv2.IMREAD_UNCHANGED)
    if image is None:
        sys.exit(f"cannot read {path}")
    scale = 65535.0 if image.dtype == np.uint16 else 255.0
    return image.astype(np.float64) * (255.0 / scale)


def seams(args):
    common = [
        "--image-size", str(args.size), "--scales", "1", "--iterations", str(args.iterations), "--device",
        args.device, "--seed", str(args.seed), "--bit-depth", "16", "--progress", "json", "--print-every", "0",
        "--overwrite",
    ]
    content, style = (os.path.join(ROOT, p) for p in (args.content, args.style))
    os.makedirs(args.work, exist_ok=True)
    images = {}
    for mode, extra in (("untiled", []), ("tiled", ["--tile-size", str(args.tile_size)])):
        output = os.path.join(args.work, f"{mode}.png")
        lines, stderr, seconds = stylize(args.binary, [content, style, "-o", output] + common + extra)
        images[mode] = read_image(output)
        tiling = [line for line in stderr.splitlines() if line.startswith("tiling:")]
        print(json.dumps({"run": mode, "seconds": round(seconds, 1), "loss": lines[-1]["loss"], "tiling": tiling}))
    height, width = images["tiled"].shape[:2]
    # The image's last change came from the gradient of iteration N - 1's grid.
    offset_y, offset_x = grid_offset(args.seed, 0, args.iterations - 1, args.tile_size)
    boundaries_y = cuts(height, args.tile_size, offset_y)
    boundaries_x = cuts(width, args.tile_size, offset_x)
    for mode, image in images.items():
        print(json.dumps({"seams": mode, **seam_figures(image, boundaries_y, boundaries_x)}))
    if args.crop and boundaries_x and boundaries_y:
        # A corner where a row and a column boundary of the last grid meet, tiled beside untiled.
        cy, cx = boundaries_y[len(boundaries_y) // 2], boundaries_x[len(boundaries_x) // 2]
        half = args.crop_size // 2
        top, left = max(0, min(cy - half, height - args.crop_size)), max(0, min(cx - half, width - args.crop_size))
        parts = [images[m][top:top + args.crop_size, left:left + args.crop_size] for m in ("tiled", "untiled")]
        gap = np.full((args.crop_size, 8, 3), 255.0)
        crop = np.concatenate([parts[0], gap, parts[1]], axis=1)
        crop = cv2.resize(crop, None, fx=args.zoom, fy=args.zoom, interpolation=cv2.INTER_NEAREST)
        cv2.imwrite(args.crop, np.clip(crop + 0.5, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 88])
        print(json.dumps({"crop": args.crop, "corner": [cy, cx], "top_left": [top, left], "size": args.crop_size}))


def predicted_ratio(height, width, tile_size, halo=64, forward_share=189 / 380, kept=False):
    """The work of a tiled iteration over an untiled one, averaged over the grid's offsets:
    every tile's region forward twice and backward once, less pass 1's last tile's forward
    (reused), against the whole image forward and backward once; with kept activations,
    forward once and backward once (conv1_1, run again, is 0.2 % of the work). forward_share:
    the forward pass's part of a forward and backward (docs/DESIGN.md, Reference figures: 189
    of 380 GFLOP at 512x512)."""
    if kept:
        forward_share = 0.0
    total = 0.0
    offsets = range(0, tile_size, ALIGNMENT)
    for oy in offsets:
        rows = pieces(height, tile_size, oy)
        for ox in offsets:
            columns = pieces(width, tile_size, ox)
            regions = [
                (min(height, r1 + halo) - max(0, r0 - halo)) * (min(width, c1 + halo) - max(0, c0 - halo))
                for r0, r1 in rows for c0, c1 in columns
            ]
            work = sum(regions) * (1 + forward_share) - regions[-1] * forward_share
            total += work / (height * width)
    return total / len(offsets) ** 2


def iteration_seconds(lines):
    """Seconds per iteration of one run: differences of elapsed_s after the first two reports."""
    times = [line["elapsed_s"] for line in lines]
    steps = [b - a for a, b in zip(times, times[1:])][2:]
    return statistics.median(steps)


def timed_run_arguments(args, name):
    """The arguments of one single-scale run whose iterations are timed (cost, storage)."""
    content, style = (os.path.join(ROOT, p) for p in (args.content, args.style))
    os.makedirs(args.work, exist_ok=True)
    return [
        content, style, "-o", os.path.join(args.work, f"{name}.png"), "--image-size", str(args.size), "--scales",
        "1", "--iterations", str(args.iterations), "--device", args.device, "--progress", "json", "--print-every",
        "1", "--overwrite",
    ]


def cost(args):
    common = timed_run_arguments(args, "cost")
    tiled = ["--tile-size", str(args.tile_size), "--tile-activations"]
    modes = {"untiled": [], "tiled": tiled + ["recompute"], "tiled_kept": tiled + ["keep"]}
    medians = {mode: [] for mode in modes}
    for round_ in range(args.rounds):
        # A different first run every round.
        order = list(modes)[round_ % 3:] + list(modes)[:round_ % 3]
        for mode in order:
            lines, stderr, _ = stylize(args.binary, common + modes[mode])
            seconds = iteration_seconds(lines)
            medians[mode].append(seconds)
            print(json.dumps({"round": round_, "run": mode, "s_per_iteration": round(seconds, 4)}))
    seconds = {mode: statistics.median(values) for mode, values in medians.items()}
    height, width = lines[0]["height"], lines[0]["width"]
    print(json.dumps({
        "size": args.size, "tile_size": args.tile_size, "device": args.device, "rounds": args.rounds,
        **{f"{mode}_s": round(value, 4) for mode, value in seconds.items()},
        "ratio": round(seconds["tiled"] / seconds["untiled"], 3),
        "predicted_ratio": round(predicted_ratio(height, width, args.tile_size), 3),
        "kept_ratio": round(seconds["tiled_kept"] / seconds["untiled"], 3),
        "kept_predicted_ratio": round(predicted_ratio(height, width, args.tile_size, kept=True), 3),
        "load": os.getloadavg()[0],
    }))


def storage(args):
    os.environ["STYLIZE_GPU_DEVICE_MEMORY"] = args.device_memory
    common = timed_run_arguments(args, "storage")
    modes = ["float", "half"]
    seconds = {mode: [] for mode in modes}
    for round_ in range(args.rounds):
        for mode in modes if round_ % 2 == 0 else list(reversed(modes)):
            lines, stderr, _ = stylize(args.binary, common + ["--storage", mode])
            tiling = next((line for line in stderr.splitlines() if line.startswith("tiling: ")), "untiled")
            seconds[mode].append(iteration_seconds(lines))
            print(json.dumps({
                "round": round_, "storage": mode, "tiling": tiling, "s_per_iteration": round(seconds[mode][-1], 4),
                "final_loss": lines[-1]["loss"], "device_mib": max(line["device_bytes"] for line in lines) >> 20,
            }))
    medians = {mode: statistics.median(values) for mode, values in seconds.items()}
    print(json.dumps({
        "size": args.size, "device_memory": args.device_memory, "device": args.device, "rounds": args.rounds,
        "float_s": round(medians["float"], 4), "half_s": round(medians["half"], 4),
        "half_over_float": round(medians["half"] / medians["float"], 3), "load": os.getloadavg()[0],
    }))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["seams", "cost", "storage"])
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build", "release", "stylize-gpu"))
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--content", default="examples/tubingen.jpg")
    parser.add_argument("--style", default="examples/starry_night.jpg")
    parser.add_argument("--size", type=int, default=1024)
    parser.add_argument("--tile-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=24)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--rounds", type=int, default=5, help="cost, storage: interleaved rounds")
    parser.add_argument("--device-memory", default="512MiB", help="storage: STYLIZE_GPU_DEVICE_MEMORY")
    parser.add_argument("--crop", help="seams: JPEG to write a boundary corner to, tiled beside untiled")
    parser.add_argument("--crop-size", type=int, default=192)
    parser.add_argument("--zoom", type=float, default=2.0)
    parser.add_argument("--work", default=os.path.join(ROOT, ".build", "tiling-benchmark"))
    args = parser.parse_args()
    {"seams": seams, "cost": cost, "storage": storage}[args.mode](args)


if __name__ == "__main__":
    main()
