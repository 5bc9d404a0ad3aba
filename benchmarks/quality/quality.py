#!/usr/bin/env python3
"""Result-quality experiments of issue 19 (see benchmarks/README.md, "Result quality").

Runs the stylize-gpu binary with argument lists and measures what a person sees:
  projection  the written file's loss against the optimiser's last reported loss, with and
              without the projection onto 0-255 (and how far the unprojected image strays);
  average     the iterate average's effect: written-file loss, noise (TV term) and flicker
              between consecutive --save-every frames;
  scales      single scale against coarse-to-fine at equal cost (pixel-iterations), the final
              loss at full size and the style loss measured at half size, images kept.
Every loss of a file is computed by the tool itself: a run with --init FILE at the same
settings reports it as iteration 0 (--no-clamp --scales 1, nothing optimised before it).
Needs numpy and opencv-python-headless (frames are read with OpenCV). Prints one JSON object
per measurement on stdout.
"""
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PAIRS = {
    "chelsea-starry": ("examples/chelsea.png", "examples/starry_night.jpg"),
    "tubingen-scream": ("examples/tubingen.jpg", "examples/the_scream.jpg"),
}


def stylize(binary, arguments):
    """Runs the binary; returns (JSON progress objects, stderr, seconds)."""
    start = time.monotonic()
    result = subprocess.run([binary] + arguments, capture_output=True, text=True)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"stylize-gpu failed ({result.returncode}): {' '.join(arguments)}\n{result.stderr}")
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    return lines, result.stderr, seconds


def file_loss(binary, device, pair, image, size, work):
    """The loss of an image file at a size, as iteration 0 of a run that starts from it."""
    content, style = (os.path.join(ROOT, p) for p in PAIRS[pair])
    lines, _, _ = stylize(binary, [
        content, style, "-o", os.path.join(work, "eval.png"), "--init", image, "--image-size", str(size),
        "--iterations", "1", "--no-clamp", "--scales", "1", "--average-decay", "0", "--progress", "json",
        "--print-every", "0", "--device", device, "--overwrite"])
    first = lines[0]
    return {k: first[k] for k in ("loss", "content", "style", "tv")}


def checkpoint_image(path):
    """The float32 image of a checkpoint (format 3: magic line, header length, JSON, tensors)."""
    data = open(path, "rb").read()
    offset = data.index(b"\n") + 1
    (length,) = struct.unpack_from("<Q", data, offset)
    offset += 8
    header = json.loads(data[offset:offset + length])
    offset += length
    return np.frombuffer(data, dtype="<f4", count=header["tensorCounts"][0], offset=offset)


def run(binary, device, pair, size, work, name, extra):
    content, style = (os.path.join(ROOT, p) for p in PAIRS[pair])
    output = os.path.join(work, f"{name}.png")
    lines, stderr, seconds = stylize(binary, [
        content, style, "-o", output, "--image-size", str(size), "--progress", "json", "--print-every", "10",
        "--device", device, "--overwrite"] + extra)
    return output, lines, seconds


def projection(args, work):
    for pair in args.pairs:
        for clamp in (True, False):
            name = f"{pair}-{'clamp' if clamp else 'noclamp'}"
            checkpoint = os.path.join(work, name + ".ckpt")
            extra = ["--iterations", str(args.iterations), "--scales", "1", "--average-decay", "0",
                     "--checkpoint", checkpoint] + ([] if clamp else ["--no-clamp"])
            output, lines, seconds = run(args.stylize, args.device, pair, args.size, work, name, extra)
            image = checkpoint_image(checkpoint)
            outside = float(np.mean((image < 0) | (image > 255)))
            written = file_loss(args.stylize, args.device, pair, output, args.size, work)
            print(json.dumps({
                "experiment": "projection", "pair": pair, "size": args.size, "iterations": args.iterations,
                "clamp": clamp, "seconds": round(seconds, 1), "optimised": lines[-1]["loss"],
                "optimised_style": lines[-1]["style"], "written": written["loss"], "written_style": written["style"],
                "outside_fraction": outside, "min": float(image.min()), "max": float(image.max())}), flush=True)


def average(args, work):
    for pair in args.pairs:
        for decay in args.decays:
            name = f"{pair}-avg{decay}"
            extra = ["--iterations", str(args.iterations), "--scales", "1", "--average-decay", str(decay),
                     "--save-every", "5"]
            output, lines, seconds = run(args.stylize, args.device, pair, args.size, work, name, extra)
            frames = [cv2.imread(os.path.join(work, f"{name}_{i:04d}.png")).astype(np.float64)
                      for i in range(5, args.iterations + 1, 5)]
            late = frames[len(frames) // 2:]
            flicker = float(np.mean([np.mean(np.abs(b - a)) for a, b in zip(late, late[1:])]))
            written = file_loss(args.stylize, args.device, pair, output, args.size, work)
            print(json.dumps({
                "experiment": "average", "pair": pair, "size": args.size, "iterations": args.iterations,
                "decay": decay, "seconds": round(seconds, 1), "optimised": lines[-1]["loss"],
                "written": written["loss"], "written_style": written["style"], "written_tv": written["tv"],
                "flicker": flicker}), flush=True)


def scales(args, work):
    for pair in args.pairs:
        for label in args.configs:
            # label: "single:N" or "SCALES:INITIAL:ITERATIONS" (scales from size/2 to size).
            parts = label.split(":")
            if parts[0] == "single":
                extra = ["--scales", "1", "--iterations", parts[1]]
            else:
                extra = ["--scales", parts[0], "--min-size", str(args.size // 2),
                         "--initial-iterations", parts[1], "--iterations", parts[2]]
            extra += ["--average-decay", str(args.decay)]
            name = f"{pair}-{args.size}-{label.replace(':', '_')}"
            output, lines, seconds = run(args.stylize, args.device, pair, args.size, work, name, extra)
            per_scale = {}
            for line in lines:
                per_scale.setdefault(line["scale"], []).append(line)
            timing = [{"scale": s, "size": f'{v[-1]["width"]}x{v[-1]["height"]}', "iterations": v[-1]["iteration"],
                       "s_per_iteration": round(v[-1]["elapsed_s"] / max(v[-1]["iteration"], 1), 3)}
                      for s, v in sorted(per_scale.items())]
            full = file_loss(args.stylize, args.device, pair, output, args.size, work)
            half = file_loss(args.stylize, args.device, pair, output, args.size // 2, work)
            print(json.dumps({
                "experiment": "scales", "pair": pair, "size": args.size, "config": label,
                "seconds": round(seconds, 1), "timing": timing, "full_loss": full["loss"],
                "full_style": full["style"], "half_style": half["style"], "half_loss": half["loss"],
                "image": output}), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiment", choices=["projection", "average", "scales"])
    parser.add_argument("--stylize", default=os.path.join(ROOT, ".build/release/stylize-gpu"))
    parser.add_argument("--device", default="auto")
    parser.add_argument("--pairs", nargs="+", default=list(PAIRS))
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--decays", type=float, nargs="+", default=[0, 0.9, 0.97])
    parser.add_argument("--decay", type=float, default=0, help="scales: the --average-decay of every run")
    parser.add_argument("--configs", nargs="+", default=["single:80", "2:160:40"])
    parser.add_argument("--keep", help="folder for the images (default: a temporary one)")
    args = parser.parse_args()
    work = args.keep or tempfile.mkdtemp()
    os.makedirs(work, exist_ok=True)
    {"projection": projection, "average": average, "scales": scales}[args.experiment](args, work)


if __name__ == "__main__":
    main()
