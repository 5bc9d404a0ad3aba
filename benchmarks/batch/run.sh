#!/usr/bin/env bash
# Jobs per hour of `stylize-gpu batch` against a shell loop of `stylize-gpu run`, and of two
# workers (PoCL's CPU device + the native path) against one, on the same pairs.
#
#   benchmarks/batch/run.sh [OUT_DIR]
#
# PAIRS (12), SIZE (256) and ITERATIONS (100) set the workload: PAIRS content × style pairs
# from examples/ (contents and styles repeated with other seeds when there are fewer images).
# STYLIZE_GPU: the binary (default .build/release/stylize-gpu). Prints one line per setting
# and writes OUT_DIR/results.tsv. Needs the weights (`stylize-gpu weights fetch`).
set -euo pipefail
cd "$(dirname "$0")/../.."
PAIRS=${PAIRS:-12}
SIZE=${SIZE:-256}
ITERATIONS=${ITERATIONS:-100}
BIN=${STYLIZE_GPU:-.build/release/stylize-gpu}
OUT=${1:-$(mktemp -d)}
mkdir -p "$OUT"
[ -x "$BIN" ] || { echo "error: $BIN is not built; run swift build -c release" >&2; exit 1; }

contents=(examples/tubingen.jpg examples/chelsea.png examples/astronaut.png)
styles=(examples/starry_night.jpg examples/the_scream.jpg examples/shipwreck.jpg)
manifest="$OUT/jobs.jsonl"
: >"$manifest"
for ((i = 0; i < PAIRS; i++)); do
    c=${contents[i % ${#contents[@]}]} s=${styles[(i / ${#contents[@]}) % ${#styles[@]}]}
    printf '{"content": "%s", "styles": ["%s"], "output": "pair%02d.png", "options": {"seed": %d}}\n' \
        "$PWD/$c" "$PWD/$s" "$i" "$i" >>"$manifest"
done
common=(--image-size "$SIZE" --iterations "$ITERATIONS")

now() { date +%s.%N; }
report() { # name seconds
    local per_hour
    per_hour=$(awk -v n="$PAIRS" -v s="$2" 'BEGIN { printf "%.1f", n * 3600 / s }')
    printf '%-28s %8.1f s  %8s jobs/hour\n' "$1" "$2" "$per_hour"
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$PAIRS" "$SIZE" "$ITERATIONS" "$2" "$per_hour" >>"$OUT/results.tsv"
}
printf 'setting\tpairs\tsize\titerations\tseconds\tjobs_per_hour\n' >"$OUT/results.tsv"

# 1. A shell loop of `run`: every job builds the program and uploads the weights again.
mkdir -p "$OUT/loop"
start=$(now)
i=0
while IFS= read -r line; do
    c=$(sed -E 's/.*"content": "([^"]*)".*/\1/' <<<"$line")
    s=$(sed -E 's/.*"styles": \["([^"]*)"\].*/\1/' <<<"$line")
    "$BIN" run "$c" "$s" -o "$OUT/loop/pair$(printf %02d $i).png" --seed "$i" --device cpu --progress none "${common[@]}" \
        2>>"$OUT/loop.log"
    i=$((i + 1))
done <"$manifest"
report "run loop (PoCL)" "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"

# 2. batch in one process, one worker: one program build, the weights uploaded once.
start=$(now)
"$BIN" batch --manifest "$manifest" -o "$OUT/one" --devices cpu "${common[@]}" 2>"$OUT/one.log"
report "batch, 1 worker (PoCL)" "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"

# 3. batch with two workers: PoCL's CPU device and the native path share the cores.
start=$(now)
"$BIN" batch --manifest "$manifest" -o "$OUT/two" --devices cpu,native "${common[@]}" 2>"$OUT/two.log"
report "batch, 2 workers (PoCL+native)" "$(awk -v a="$start" -v b="$(now)" 'BEGIN { print b - a }')"
grep -h "set-up" "$OUT/one.log" | sed -E 's/.*\(set-up ([0-9.]+) s\).*/\1/' | awk '
    NR == 1 { first = $1 } NR > 1 { sum += $1; n++ }
    END { if (n) printf "set-up per job (1 worker): first %.2f s, later %.2f s on average\n", first, sum / n }'
