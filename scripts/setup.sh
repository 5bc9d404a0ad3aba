#!/usr/bin/env bash
# One command from a fresh clone to a stylised image: installs the system packages (apt, as
# root or through sudo), builds stylize-gpu (release), fetches the VGG19 weights, and repaints
# examples/chelsea.png in the style of examples/starry_night.jpg.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v swift >/dev/null; then
    echo "error: no Swift toolchain on PATH; install Swift 6 (https://www.swift.org/install/linux/) and run this again" >&2
    exit 1
fi

bash scripts/install-deps.sh
echo "building stylize-gpu (release)…"
swift build -c release --product stylize-gpu 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | tail -n 3
binary=.build/release/stylize-gpu
"$binary" weights fetch >/dev/null
"$binary" devices

mkdir -p output
output=output/chelsea_starry_night.png
"$binary" examples/chelsea.png examples/starry_night.jpg -o "$output" \
    --image-size "${IMAGE_SIZE:-256}" --iterations "${ITERATIONS:-100}" --print-every 20 \
    --sheet output/chelsea_starry_night_sheet.png
echo
echo "The stylised image is $(pwd)/$output (side by side with its inputs: output/chelsea_starry_night_sheet.png)."
echo "For a bigger, finer result: $binary examples/chelsea.png examples/starry_night.jpg -o big.png --image-size 512"
