#!/usr/bin/env python3
"""The video command on a camera pan over a sample photo (issue 21; see benchmarks/README.md,
"benchmarks/video/video.py").

Makes FRAMES frames of SIZE x 9/16 SIZE pixels, each window SHIFT pixels to the right of the one
before (a pan with known motion), runs `stylize-gpu video` on them with --temporal-weight 0 (every
frame on its own) and with the command's default weight, and measures per setting:
  frames_per_minute      of the frames after the first (their mean time in the frame records);
  first_frame_s          the first frame's time (more iterations, and the set-up);
  warping_error          mean over the pixels both frames see of |out[t+1](x) - out[t](x + SHIFT)|,
                         0-255 units, all channels and consecutive pairs (Lai et al. 2018's
                         measure with the exact warp of a known pan instead of a flow's);
  input_warping_error    the same on the input frames (0: the warp is exact).
A setting that fails (the temporal ops not built in) is reported with its error line.
Needs numpy and opencv-python-headless. Prints one JSON object per setting on stdout.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def make_pan(photo, size, frames, shift, folder):
    """FRAMES windows of SIZE x 9/16 SIZE moving SHIFT pixels right per frame; returns the paths."""
    image = cv2.imread(photo, cv2.IMREAD_COLOR)
    width, height = size, round(size * 9 / 16)
    span = width + shift * (frames - 1)
    scale = max(span / image.shape[1], height / image.shape[0])
    image = cv2.resize(image, (round(image.shape[1] * scale), round(image.shape[0] * scale)),
                       interpolation=cv2.INTER_AREA)
    top = (image.shape[0] - height) // 2
    os.makedirs(folder, exist_ok=True)
    paths = []
    for t in range(frames):
        path = os.path.join(folder, f"f{t + 1}.png")
        cv2.imwrite(path, image[top:top + height, t * shift:t * shift + width])
        paths.append(path)
    return paths


def warping_error(paths, shift):
    """Mean |next(x) - previous(x + shift)| over the pixels both see, all pairs."""
    frames = [cv2.imread(p, cv2.IMREAD_COLOR).astype(np.float64) for p in paths]
    errors = [np.abs(b[:, :-shift] - a[:, shift:]).mean() for a, b in zip(frames, frames[1:])]
    return float(np.mean(errors))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/stylize-gpu"))
    parser.add_argument("--photo", default=os.path.join(ROOT, "examples/tubingen.jpg"))
    parser.add_argument("--style", default=os.path.join(ROOT, "examples/starry_night.jpg"))
    parser.add_argument("--sizes", default="256,512")
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--shift", type=int, default=4, help="pixels the window moves per frame")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--weights", nargs="+", default=["0", "default"],
                        help="--temporal-weight values; 'default' leaves the option out")
    parser.add_argument("--out", default=None, help="keep the frames here (default: a temporary folder)")
    parser.add_argument("run_options", nargs=argparse.REMAINDER,
                        help="after --: more options of the video command (--iterations 200 …)")
    args = parser.parse_args()
    extra = [a for a in args.run_options if a != "--"]
    root = args.out or tempfile.mkdtemp(prefix="video-bench-")
    for size in [int(s) for s in args.sizes.split(",")]:
        frames = make_pan(args.photo, size, args.frames, args.shift, os.path.join(root, f"pan{size}"))
        for weight in args.weights:
            out = os.path.join(root, f"out{size}-w{weight}")
            command = [args.binary, "video", os.path.dirname(frames[0]), args.style, "-o", out,
                       "--image-size", str(size), "--device", args.device, "--progress", "none"]
            command += [] if weight == "default" else ["--temporal-weight", weight]
            start = time.monotonic()
            result = subprocess.run(command + extra, capture_output=True, text=True)
            row = {"size": size, "frames": args.frames, "shift": args.shift, "device": args.device,
                   "temporal_weight": weight, "options": extra, "seconds": round(time.monotonic() - start, 2)}
            if result.returncode != 0:
                lines = [l for l in result.stderr.splitlines() if l.startswith("error:")]
                row["error"] = lines[-1] if lines else result.stderr.strip().splitlines()[-1:]
            else:
                records = sorted(glob.glob(os.path.join(out, ".stylize-gpu", "*.png.json")))
                seconds = [json.load(open(r))["seconds"] for r in records]
                later = seconds[1:] or seconds
                row["first_frame_s"] = round(seconds[0], 2)
                row["frames_per_minute"] = round(60 / np.mean(later), 2)
                row["warping_error"] = round(warping_error(sorted(glob.glob(os.path.join(out, "*.png"))), args.shift), 3)
                row["input_warping_error"] = round(warping_error(frames, args.shift), 3)
            print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(main())
