#!/bin/sh
# The `stylize-gpu` launcher at the root of the portable bundle (scripts/bundle.sh copies it there).
# 1. Uses the bundle's lib/ (the OpenCL ICD loader, libgfortran) before anything installed.
# 2. When no OpenCL driver is registered (/etc/OpenCL/vendors empty or missing, OCL_ICD_VENDORS
#    unset) but the NVIDIA driver's libnvidia-opencl.so.1 is installed, registers it for this
#    process through an .icd file in a temporary folder, and says so on stderr.
# 3. When the user's cache has no weights but the bundle carries them (cache/stylize-gpu/),
#    points XDG_CACHE_HOME at the bundle so every command finds them.
# STYLIZE_GPU_LAUNCHER_QUIET=1 silences the notes.
set -eu
here=$(cd "$(dirname "$0")" && pwd)

note() {
    [ "${STYLIZE_GPU_LAUNCHER_QUIET:-0}" = 1 ] || echo "stylize-gpu launcher: $*" >&2
}

LD_LIBRARY_PATH="$here/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH

# The NVIDIA driver's OpenCL library, from the usual folders or the linker cache.
find_nvidia_opencl() {
    for dir in /usr/lib/x86_64-linux-gnu /usr/lib64 /usr/lib /usr/local/nvidia/lib64 /usr/local/nvidia/lib \
               /usr/lib/x86_64-linux-gnu/nvidia/current /run/opengl-driver/lib; do
        if [ -e "$dir/libnvidia-opencl.so.1" ]; then echo "$dir/libnvidia-opencl.so.1"; return 0; fi
    done
    if command -v ldconfig >/dev/null 2>&1 || [ -x /sbin/ldconfig ]; then
        path=$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null) \
            | awk '/libnvidia-opencl\.so\.1 .*x86-64/ { print $NF; exit }')
        if [ -n "$path" ] && [ -e "$path" ]; then echo "$path"; return 0; fi
    fi
    return 1
}

vendors=${OPENCL_VENDOR_PATH:-/etc/OpenCL/vendors}
if [ -z "${OCL_ICD_VENDORS:-}" ] && ! ls "$vendors"/*.icd >/dev/null 2>&1; then
    if nvidia=$(find_nvidia_opencl); then
        # One folder per user, rewritten each time, so runs leave nothing new behind.
        icd_dir=${TMPDIR:-/tmp}/stylize-gpu-icd-$(id -u)
        mkdir -p "$icd_dir"
        echo "$nvidia" > "$icd_dir/nvidia.icd"
        OCL_ICD_VENDORS=$icd_dir
        export OCL_ICD_VENDORS
        note "no OpenCL driver registered in $vendors; using the NVIDIA driver $nvidia (OCL_ICD_VENDORS=$icd_dir)"
    else
        note "no OpenCL driver registered in $vendors and no libnvidia-opencl.so.1 found; only --device native will work"
    fi
fi

weights_name=vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin
user_cache=${XDG_CACHE_HOME:-${HOME:-/nonexistent}/.cache}
if [ -f "$here/cache/stylize-gpu/$weights_name" ] && [ ! -f "$user_cache/stylize-gpu/$weights_name" ]; then
    XDG_CACHE_HOME=$here/cache
    export XDG_CACHE_HOME
fi

exec "$here/bin/stylize-gpu" "$@"
