#!/usr/bin/env bash
# Fuzzes one family of parsers of outside data with libFuzzer (AddressSanitizer on).
#
#   scripts/fuzz.sh TARGET SECONDS [extra libFuzzer flags…]
#   TARGET: png | jpeg | tiff | icc | torch | safetensors | manifest | framelist | ffprobe
#
# Builds .build-fuzz/stylize-fuzz from the GPUStyle sources that parse outside data (ImageIO, the
# weight readers, batch manifests, frame folders, ffprobe's output; listed in Fuzz/sources.txt)
# plus the C wrappers around libpng/libjpeg/libtiff/lcms2, compiled with coverage;
# the libraries themselves are the system's, uninstrumented. Runs under `nice -n 19` from the committed
# seeds in Fuzz/corpus/TARGET; inputs it discovers go to .build-fuzz/corpus/TARGET, crashes,
# hangs (-timeout) and memory blow-ups (-rss_limit_mb, -malloc_limit_mb) to
# .build-fuzz/findings/TARGET/. Reproduce one with:
#   STYLIZE_FUZZ_TARGET=TARGET .build-fuzz/stylize-fuzz FILE
set -euo pipefail

targets="png|jpeg|tiff|icc|torch|safetensors|manifest|framelist|ffprobe"
target=${1:?usage: scripts/fuzz.sh $targets SECONDS [libFuzzer flags]}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
shift 2
[[ "|$targets|" == *"|$target|"* ]] || { echo "unknown target '$target'; one of $targets" >&2; exit 2; }

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build=.build-fuzz
binary=$build/stylize-fuzz
mkdir -p "$build/modules/CPNG" "$build/modules/CJPEG" "$build/modules/CTIFF" "$build/modules/CLCMS" "$build/corpus/$target" "$build/findings/$target"

# The Swift sources, from Fuzz/sources.txt (FuzzCorpusTests checks that each exists).
mapfile -t sources < <(grep -v '^#' Fuzz/sources.txt | grep .)

# Rebuild only when a source changed.
if [[ ! -x $binary ]] || [[ -n $(find "${sources[@]}" Sources/CPNG Sources/CJPEG Sources/CTIFF Sources/CLCMS Fuzz/sources.txt scripts/fuzz.sh -newer "$binary" | head -1) ]]; then
    echo "building $binary" >&2
    toolchain=$(dirname "$(command -v swiftc)")
    for lib in CPNG CJPEG CTIFF CLCMS; do
        lower=$(echo "$lib" | tr '[:upper:]' '[:lower:]')
        printf 'module %s {\n    header "%s"\n    export *\n}\n' "$lib" "$root/Sources/$lib/include/$lower.h" \
            > "$build/modules/$lib/module.modulemap"
        "$toolchain/clang" -c -O1 -g -fsanitize=fuzzer-no-link,address -I "Sources/$lib/include" \
            "Sources/$lib/$lower.c" -o "$build/$lower.o"
    done
    swiftc -sanitize=fuzzer,address -parse-as-library -O -g -module-name GPUStyleFuzz \
        -I "$build/modules" "${sources[@]}" "$build/cpng.o" "$build/cjpeg.o" "$build/ctiff.o" "$build/clcms.o" -lpng -ljpeg -ltiff -llcms2 \
        -o "$binary.new" 2> >(grep -v "Cannot export local symbol" >&2)
    mv "$binary.new" "$binary" # a rename: fuzzers still running keep the old file
fi

dictionary=()
if [[ -f Fuzz/dictionaries/$target.dict ]]; then
    dictionary=(-dict="Fuzz/dictionaries/$target.dict")
fi
# Inputs are small (the seeds are a few KB); 64 KB leaves room for growth. 20 s per input (the
# seeds take milliseconds; the margin is for a loaded shared machine) and
# 2 GB in all are far beyond what any input needs. A single allocation is held to what the
# declared sizes may legitimately ask for: an image within the harness's 4 MP limit needs at most
# 4 MP × 4 channels × 2 bytes (32 MB) in libpng and 48 MB of floats; a weights file no more than
# its own size (64 KB here) per tensor. Anything larger was allocated from an unchecked length.
case "$target" in png|jpeg|tiff) malloc_limit=256 ;; *) malloc_limit=64 ;; esac
# SWIFT_BACKTRACE: the Swift runtime's backtracer trips AddressSanitizer over a plain trap.
SWIFT_BACKTRACE=enable=no STYLIZE_FUZZ_TARGET=$target exec nice -n 19 "$binary" \
    -max_total_time="$seconds" -max_len=65536 -timeout=20 -rss_limit_mb=2048 -malloc_limit_mb=$malloc_limit \
    -print_final_stats=1 -artifact_prefix="$build/findings/$target/" "${dictionary[@]}" "$@" \
    "$build/corpus/$target" "Fuzz/corpus/$target"
