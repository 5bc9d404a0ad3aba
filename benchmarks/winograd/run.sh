#!/usr/bin/env bash
# Winograd F(2×2,3×3) against F(4×4,3×3), layer by layer, to choose the tile per device and layer
# (issue 24):
#
#   benchmarks/winograd/run.sh OUT_DIR
#
# Runs `stylize-gpu bench ops` ROUNDS times per variant, the variants taking turns within each
# round so that a change of load hits them alike: the OpenCL device $DEVICE with WINO_TILE=2 and
# WINO_TILE=4 (every other option the device's own: its tuning or defaults), and the native path
# as native-winograd and native-winograd4. Each run's table goes to OUT_DIR/<variant>-<size>-<round>.txt;
# OUT_DIR/summary.txt gives per size, layer and conv op the median milliseconds of each tile over
# the rounds, F4/F2, and the faster tile (F4 only where it wins by more than 5 %).
# Environment: BIN (default .build/release/stylize-gpu), DEVICE (default 0; none skips OpenCL),
# NATIVE (default 1; 0 skips native), SIZES (default 512,1024), ROUNDS (default 5), REPEATS
# (bench ops --repeats, default 5), LAYERS (bench ops --layers; default every layer).
# A dry run at a tiny size (seconds, not figures):
#   BIN=.build/debug/stylize-gpu SIZES=32 ROUNDS=1 REPEATS=1 LAYERS=conv2_1,conv5_1 benchmarks/winograd/run.sh /tmp/wino
set -euo pipefail

if [ $# -ne 1 ]; then
    sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
out=$1
BIN=${BIN:-.build/release/stylize-gpu}
DEVICE=${DEVICE:-0}
NATIVE=${NATIVE:-1}
SIZES=${SIZES:-512,1024}
ROUNDS=${ROUNDS:-5}
REPEATS=${REPEATS:-5}
LAYERS=${LAYERS:-}
[ -x "$BIN" ] || { echo "error: $BIN is not an executable; build it (swift build -c release) or set BIN" >&2; exit 1; }
mkdir -p "$out"

# name, then the bench ops arguments of each variant.
variants=()
if [ "$DEVICE" != none ]; then
    variants+=("opencl-F2|--device $DEVICE --define WINO_TILE=2" "opencl-F4|--device $DEVICE --define WINO_TILE=4")
fi
if [ "$NATIVE" = 1 ]; then
    variants+=("native-F2|--device native-winograd" "native-F4|--device native-winograd4")
fi
layers=()
[ -n "$LAYERS" ] && layers=(--layers "$LAYERS")

{
    echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "load average: $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || uptime)"
    "$BIN" devices
} > "$out/system.txt" 2>&1

for size in ${SIZES//,/ }; do
    for round in $(seq 1 "$ROUNDS"); do
        # Rotate the order each round.
        count=${#variants[@]}
        for k in $(seq 0 $((count - 1))); do
            entry=${variants[$(((k + round) % count))]}
            name=${entry%%|*}
            read -r -a arguments <<< "${entry#*|}"
            echo "size $size round $round: $name" >&2
            "$BIN" bench ops --image-size "$size" --repeats "$REPEATS" "${layers[@]}" "${arguments[@]}" \
                > "$out/$name-$size-$round.txt" 2> "$out/$name-$size-$round.log"
        done
    done
done

python3 - "$out" <<'PY'
import glob, os, re, statistics, sys
out = sys.argv[1]
# Table rows: layer, shape (2 words), op, then the device's ms and GFLOP/s.
row = re.compile(r"^(conv\d_\d)\s+(\S+ \S+)\s+(conv forward|conv backward-data)\s+([0-9.]+)\s+[0-9.]+\s*$")
times = {}
for path in glob.glob(os.path.join(out, "*-*-*.txt")):
    name, size, _ = os.path.basename(path)[:-4].rsplit("-", 2)
    backend, tile = name.rsplit("-", 1)
    for line in open(path):
        m = row.match(line)
        if m:
            key = (backend, int(size), m.group(1), m.group(2), m.group(3))
            times.setdefault(key, {}).setdefault(tile, []).append(float(m.group(4)))
lines = ["backend size  layer    shape            op                  F2 ms     F4 ms     F4/F2  choose"]
for key in sorted(times, key=lambda k: (k[0], k[1], int(k[2][4]), int(k[2][6]), k[4])):
    tiles = times[key]
    if "F2" not in tiles or "F4" not in tiles:
        continue
    f2, f4 = statistics.median(tiles["F2"]), statistics.median(tiles["F4"])
    ratio = f4 / f2 if f2 > 0 else float("nan")
    lines.append("%-7s %-5d %-8s %-16s %-19s %-9.3f %-9.3f %-6.3f %s"
                 % (key[0], key[1], key[2], key[3], key[4], f2, f4, ratio, "F4" if ratio < 0.95 else "F2"))
open(os.path.join(out, "summary.txt"), "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
