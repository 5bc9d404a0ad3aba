#!/usr/bin/env bash
# Clean-room check of the portable bundle, as root on a Linux machine with PoCL (the CI machine):
#
#   scripts/bundle-check.sh [dist/stylize-gpu-linux-x86_64.tar.gz] [GPU_CHECK_OUT_DIR]
#
# In a private mount namespace (unshare -m; nothing outside it changes) it hides what a GPU box
# lacks: the Swift toolchain (/opt/swift), the system's OpenCL ICD loader (libOpenCL.so.1 →
# /dev/null) and its registrations (/etc/OpenCL/vendors → empty). Then, from a fresh folder with
# `env -i` (HOME empty, PATH=/usr/bin:/bin):
#   1. no driver at all: `devices` lists only native and the launcher says why;
#   2. PoCL posing as the NVIDIA driver (libpocl.so.2 linked as /usr/local/nvidia/lib64/
#      libnvidia-opencl.so.1, the layout of NVIDIA's containers), unregistered: the launcher must
#      register it, also beside another registered (and broken) driver, and leave it alone once it
#      is registered; `devices` must list it, the loaded libOpenCL must be the bundle's (LD_DEBUG),
#      `selftest --device cpu` must pass (with the bundled weights' conv1_1/conv1_2), and a tiny
#      stylisation must write its image;
#   3. with a second argument, benchmarks/gpu/run.sh from the bundle with dry-run sizes, into it.
set -euo pipefail
tarball=${1:-dist/stylize-gpu-linux-x86_64.tar.gz}
gpu_out=${2:-}
[ -f "$tarball" ] || { echo "error: $tarball not found; build it with scripts/bundle.sh --with-weights" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "error: run as root (it needs a private mount namespace)" >&2; exit 1; }
tarball=$(cd "$(dirname "$tarball")" && pwd)/$(basename "$tarball")
[ -z "$gpu_out" ] || { mkdir -p "$gpu_out"; gpu_out=$(cd "$gpu_out" && pwd); }
pocl=${POCL_LIBRARY:-/usr/lib/x86_64-linux-gnu/libpocl.so.2}
system_loader=$(readlink -f /usr/lib/x86_64-linux-gnu/libOpenCL.so.1)

exec unshare -m --propagation private bash -s "$tarball" "$gpu_out" "$pocl" "$system_loader" <<'CHECK'
set -euo pipefail
tarball=$1 gpu_out=$2 pocl=$3 system_loader=$4
pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; exit 1; }

# What a GPU box lacks.
[ -d /opt/swift ] && mount -t tmpfs none /opt/swift
mount -t tmpfs none /etc/OpenCL/vendors
[ -f "$system_loader" ] && mount --bind /dev/null "$system_loader"
command -v swift >/dev/null && fail "swift is still on PATH"

clean=$(mktemp -d /tmp/clean.XXXXXX)
mkdir "$clean/home"
cp "$tarball" "$clean/" && cd "$clean" && tar -xzf "$(basename "$tarball")"
cd stylize-gpu-linux-x86_64
run() { env -i HOME="$clean/home" PATH=/usr/bin:/bin "$@"; }

echo "== 1. no OpenCL driver"
run ./stylize-gpu devices > devices-none.txt 2> devices-none.err
cat devices-none.txt devices-none.err
grep -q "no libnvidia-opencl.so.1 found" devices-none.err && pass "the launcher says no driver was found" || fail "no launcher note"
[ "$(grep -c . devices-none.txt)" = 2 ] && grep -q "^native" devices-none.txt && pass "only native listed" || fail "devices without a driver"

echo "== 2. PoCL as an unregistered 'NVIDIA driver'"
mount -t tmpfs none /usr/local
mkdir -p /usr/local/nvidia/lib64
ln -s "$pocl" /usr/local/nvidia/lib64/libnvidia-opencl.so.1
# PoCL finds its device plugins in pocl/ beside the library it was loaded as, and its headers in ../../share/pocl.
ln -s "$(dirname "$(readlink -f "$pocl")")/pocl" /usr/local/nvidia/lib64/pocl
mkdir -p /usr/local/share && ln -s /usr/share/pocl /usr/local/share/pocl
run ./stylize-gpu devices > devices.txt 2> devices.err
cat devices.txt devices.err
grep -q "using the NVIDIA driver /usr/local/nvidia/lib64/libnvidia-opencl.so.1" devices.err && pass "launcher registered the driver" || fail "launcher did not register the driver"
grep -q "^0 " devices.txt && pass "the OpenCL device is listed" || fail "no OpenCL device"

echo "== 2b. another driver registered, broken, and the NVIDIA driver not (as seen on an H200 box)"
echo /usr/lib/x86_64-linux-gnu/libpocl-not-installed.so.2 > /etc/OpenCL/vendors/pocl.icd
run ./stylize-gpu devices > devices-beside.txt 2> devices-beside.err
cat devices-beside.txt devices-beside.err
grep -q "(pocl.icd) do not include an installed NVIDIA driver; adding the NVIDIA driver /usr/local/nvidia/lib64/libnvidia-opencl.so.1" devices-beside.err \
    && pass "launcher added the driver beside the registered one" || fail "launcher did not add the driver"
grep -q "^0 " devices-beside.txt && pass "the OpenCL device is listed" || fail "no OpenCL device beside the broken registration"
echo /usr/local/nvidia/lib64/libnvidia-opencl.so.1 > /etc/OpenCL/vendors/nvidia.icd
run ./stylize-gpu devices > devices-registered.txt 2> devices-registered.err
[ ! -s devices-registered.err ] && grep -q "^0 " devices-registered.txt \
    && pass "a registered NVIDIA driver is left to the loader, silently" || { cat devices-registered.err; fail "registered driver"; }
rm /etc/OpenCL/vendors/pocl.icd /etc/OpenCL/vendors/nvidia.icd

run LD_DEBUG=libs ./stylize-gpu devices 2> ld-debug.txt > /dev/null
loaded=$(grep -E "calling init: .*libOpenCL\.so\.1" ld-debug.txt | head -n 1 | sed 's/.*calling init: //')
echo "libOpenCL loaded from: $loaded"
[ "$loaded" = "$PWD/bin/../lib/libOpenCL.so.1" ] || [ "$loaded" = "$PWD/lib/libOpenCL.so.1" ] \
    && pass "the bundle's libOpenCL.so.1 is the one loaded" || fail "libOpenCL.so.1 loaded from $loaded"
grep -E "calling init: " ld-debug.txt | sed 's/.*calling init: /  init /' | sort -u | grep -v "/lib/x86_64-linux-gnu/"

time run ./stylize-gpu selftest --device cpu > selftest.txt 2>&1 || { cat selftest.txt; fail "selftest"; }
tail -n 6 selftest.txt
grep -q "conv1_2 forward" selftest.txt && pass "selftest passed, real weights included (bundled)" || fail "weights part skipped"

time run ./stylize-gpu examples/tubingen.jpg examples/starry_night.jpg -o "$clean/tiny.png" --device cpu \
    --image-size 48 --iterations 3 --progress plain --print-every 1 2>&1 | tail -n 4
[ -s "$clean/tiny.png" ] && pass "tiny stylisation wrote $(stat -c %s "$clean/tiny.png") bytes" || fail "no image"

if [ -n "$gpu_out" ]; then
    echo "== 3. benchmarks/gpu/run.sh, dry-run sizes"
    run DEVICE=cpu SIZES=${SIZES:-64} BENCH_ITERATIONS=${BENCH_ITERATIONS:-2} WARMUP=1 NATIVE_SIZES=${NATIVE_SIZES:-64} \
        NATIVE_ITERATIONS=1 RUN_SIZE=${RUN_SIZE:-64} RUN_ITERATIONS=${RUN_ITERATIONS:-10} OPS_SIZE=32 OPS_REPEATS=1 \
        bash benchmarks/gpu/run.sh "$tarball" "$gpu_out" && pass "GPU check script" || fail "GPU check script"
fi
rm -rf "$clean"
echo "bundle check passed"
CHECK
