#!/usr/bin/env python3
"""Optical flow: stylize-gpu's TV-L1 (`stylize-gpu flow`) against OpenCV's DIS and Farnebäck.

The sequences are FlowTests' (Tests/GPUStyleTests/FlowTests.swift), made the same way at any
size: a photo from examples/ resized (area) to twice the frame size; each frame the mean of 4x4
bilinear samples per pixel through a known map (translation, zoom 1.05, rotation 3 degrees about
the centre, a 1/4-size patch of another photo pasted and moved on a still background). Every
method gets the same 8-bit PNG frames. End-point error (EPE) is the mean over pixels at least
`margin` = size/16 from the edge (for the patch: inside it, eroded, and on the background away
from it). Time per frame pair: OpenCV in-process (median of --repeat), ours the median the
command prints for --repeat flows on a device already set up (the program build is not counted).

    python3 benchmarks/video/flow.py --size 96                       # EPE only (deterministic)
    python3 benchmarks/video/flow.py --size 256 --time --device 0    # with timings (quiet machine)

Needs numpy and opencv-python-headless; the binary defaults to .build/release/stylize-gpu.
"""
import argparse
import math
import os
import subprocess
import sys
import tempfile
import time

import cv2
import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def photo(name, side):
    image = cv2.imread(os.path.join(ROOT, "examples", name), cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float64)
    h, w = image.shape[:2]
    scale = 2 * side / max(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def bilinear(image, y, x):
    h, w = image.shape[:2]
    y = np.clip(y, 0, h - 1)
    x = np.clip(x, 0, w - 1)
    y0 = np.floor(y).astype(int)
    x0 = np.floor(x).astype(int)
    y1 = np.minimum(y0 + 1, h - 1)
    x1 = np.minimum(x0 + 1, w - 1)
    fy = (y - y0)[..., None]
    fx = (x - x0)[..., None]
    top = (1 - fx) * image[y0, x0] + fx * image[y0, x1]
    bottom = (1 - fx) * image[y1, x0] + fx * image[y1, x1]
    return (1 - fy) * top + fy * bottom


def render(source, side, mapping):
    """The frame whose pixel (i, j) shows source at mapping(i, j): 4x4 samples per pixel."""
    i, j = np.meshgrid(np.arange(side, dtype=np.float64), np.arange(side, dtype=np.float64), indexing="ij")
    total = np.zeros((side, side, 3))
    for a in range(4):
        for b in range(4):
            y, x = mapping(i + (a - 1.5) / 4, j + (b - 1.5) / 4)
            total += bilinear(source, y, x)
    return total / 16


def affine(source, side, m, shift):
    """Frames A, B with B(G(x)) = A(x), G = c + M(x - c) + t; the true flow A -> B is G(x) - x."""
    c = (side - 1) / 2
    oy, ox = (source.shape[0] - side) / 2, (source.shape[1] - side) / 2
    a = render(source, side, lambda y, x: (y + oy, x + ox))
    det = m[0] * m[3] - m[1] * m[2]

    def inverse(y, x):
        dy, dx = y - c - shift[0], x - c - shift[1]
        return c + (m[3] * dy - m[1] * dx) / det + oy, c + (-m[2] * dy + m[0] * dx) / det + ox

    b = render(source, side, inverse)
    i, j = np.meshgrid(np.arange(side, dtype=np.float64), np.arange(side, dtype=np.float64), indexing="ij")
    dy, dx = i - c, j - c
    truth = np.stack([m[2] * dy + m[3] * dx + shift[1] - dx, m[0] * dy + m[1] * dx + shift[0] - dy], axis=-1)
    return a, b, truth


def patch_sequence(background, texture_photo, side, shift):
    size = side // 4
    top = left = round(side * 30 / 96)
    oy, ox = (background.shape[0] - side) / 2, (background.shape[1] - side) / 2
    still = render(background, side, lambda y, x: (y + oy, x + ox))
    texture = render(texture_photo, side, lambda y, x: (y + 40 * side / 96, x + 60 * side / 96))
    frames, regions = [], []
    for k in range(2):
        frame = still.copy()
        t, l = top + k * shift[0], left + k * shift[1]
        frame[t:t + size, l:l + size] = texture[top:top + size, left:left + size]
        frames.append(frame)
        regions.append((t, l, size))
    truth = np.zeros((side, side, 2))
    t, l, _ = regions[0]
    truth[t:t + size, l:l + size] = (shift[1], shift[0])
    return frames[0], frames[1], truth, regions


def in_region(side, region, inset):
    t, l, size = region
    mask = np.zeros((side, side), bool)
    mask[max(t + inset, 0):max(t + size - inset, 0), max(l + inset, 0):max(l + size - inset, 0)] = True
    return mask


def read_flo(path):
    with open(path, "rb") as f:
        magic = np.frombuffer(f.read(4), "<f4")[0]
        if magic != 202021.25:
            sys.exit(f"{path}: not a Middlebury .flo file")
        w, h = np.frombuffer(f.read(8), "<i4")
        return np.frombuffer(f.read(), "<f4").reshape(h, w, 2).astype(np.float64)


def epe(flow, truth, mask):
    return float(np.sqrt(((flow - truth) ** 2).sum(-1))[mask].mean())


def gray(frame):
    return cv2.cvtColor(np.clip(np.rint(frame), 0, 255).astype(np.uint8)[:, :, ::-1], cv2.COLOR_BGR2GRAY)


def timed(function, repeat):
    result, seconds = None, []
    for _ in range(repeat):
        start = time.perf_counter()
        result = function()
        seconds.append(time.perf_counter() - start)
    return result, sorted(seconds)[len(seconds) // 2]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=96, help="frame side in pixels (FlowTests: 96)")
    parser.add_argument("--binary", default=os.path.join(ROOT, ".build/release/stylize-gpu"))
    parser.add_argument("--device", default="auto", help="stylize-gpu's --device")
    parser.add_argument("--time", action="store_true", help="also time each method (needs a quiet machine)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    side = args.size
    margin = max(side // 16, 6)
    interior = np.zeros((side, side), bool)
    interior[margin:side - margin, margin:side - margin] = True

    textured = photo("shipwreck.jpg", side)
    angle = math.radians(3)
    shift = max(1, round(side * 3 / 96)), max(1, round(side * 5 / 96))
    sequences = []
    for name, m, t in [
        ("translation", (1, 0, 0, 1), (-1.62 * side / 96, 2.37 * side / 96)),
        ("zoom 1.05", (1.05, 0, 0, 1.05), (0, 0)),
        ("rotation 3°", (math.cos(angle), -math.sin(angle), math.sin(angle), math.cos(angle)), (0.4, 0)),
    ]:
        a, b, truth = affine(textured, side, m, t)
        sequences.append((name, a, b, truth, [("interior", interior)]))
    a, b, truth, regions = patch_sequence(photo("tubingen.jpg", side), photo("starry_night.jpg", side), side, shift)
    background = interior & ~in_region(side, regions[0], -6) & ~in_region(side, regions[1], -6)
    sequences.append(("moving patch", a, b, truth, [("patch", in_region(side, regions[0], 3)), ("background", background)]))

    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    methods = {
        "stylize-gpu TV-L1": None,
        "OpenCV DIS (medium)": lambda p, n: dis.calc(p, n, None),
        "OpenCV Farnebäck": lambda p, n: cv2.calcOpticalFlowFarneback(p, n, None, 0.5, 5, 15, 5, 7, 1.5, 0),
    }
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name, a, b, truth, masks in sequences:
            pa, pb = os.path.join(folder, "a.png"), os.path.join(folder, "b.png")
            for path, frame in ((pa, a), (pb, b)):
                cv2.imwrite(path, np.clip(np.rint(frame), 0, 255).astype(np.uint8)[:, :, ::-1])
            for method, function in methods.items():
                if function is None:
                    out = os.path.join(folder, "ab.flo")
                    command = [args.binary, "flow", pa, pb, "-o", out, "--device", args.device]
                    if args.time:
                        command += ["--repeat", str(args.repeat)]
                    run = subprocess.run(command, capture_output=True, text=True)
                    if run.returncode != 0:
                        sys.exit(run.stderr.strip())
                    flow = read_flo(out)
                    seconds = float(run.stdout.split("median ")[1].split(" s")[0]) if args.time else None
                else:
                    ga, gb = cv2.imread(pa, cv2.IMREAD_GRAYSCALE), cv2.imread(pb, cv2.IMREAD_GRAYSCALE)
                    flow, seconds = timed(lambda: function(ga, gb), args.repeat if args.time else 1)
                    flow = flow.astype(np.float64)
                    seconds = seconds if args.time else None
                errors = ", ".join(f"{label} {epe(flow, truth, mask):.3f}" for label, mask in masks)
                rows.append((name, method, errors, seconds))
    print(f"| sequence ({side}×{side}) | method | mean EPE (px) |" + (" time per pair (ms) |" if args.time else ""))
    print("| --- | --- | --- |" + (" --- |" if args.time else ""))
    for name, method, errors, seconds in rows:
        print(f"| {name} | {method} | {errors} |" + (f" {seconds * 1000:.1f} |" if args.time else ""))


if __name__ == "__main__":
    main()
