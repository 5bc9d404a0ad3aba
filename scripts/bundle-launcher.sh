#!/bin/sh
# The `stylize-gpu` launcher at the root of the portable bundle (scripts/bundle.sh copies it there).
# 1. Uses the bundle's lib/ (the OpenCL ICD loader, libgfortran) before anything installed.
# 2. When OCL_ICD_VENDORS is unset and the NVIDIA driver's libnvidia-opencl.so.1 is installed but
#    not registered (/etc/OpenCL/vendors empty, missing, holding only other drivers' .icd files, or
#    an NVIDIA .icd whose library is not there: NVIDIA's containers mount the library without one,
#    and some images register a PoCL that is not even installed), registers it for this process
#    beside the registered ones, through .icd files in a temporary folder, and says so on stderr.
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

# The registered .icd files' names, one per line ("" when none).
registered_names() {
    for icd in "$vendors"/*.icd; do
        if [ -f "$icd" ]; then echo "${icd##*/}"; fi
    done
}

# Whether a registered .icd names NVIDIA's library and the loader can find it there.
nvidia_registered() {
    for icd in "$vendors"/*.icd; do
        [ -f "$icd" ] || continue
        library=$(head -n 1 "$icd" 2>/dev/null || true)
        case "$library" in
            */libnvidia-opencl*) if [ -e "$library" ]; then return 0; fi ;;
            libnvidia-opencl*)
                if (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null || true) | grep -q "^[[:space:]]*$library "; then
                    return 0
                fi ;;
        esac
    done
    return 1
}

# A folder of ours (not a link, owned by this user) whose nvidia.icd names $nvidia.
usable_icd_dir() {
    [ -d "$1" ] && [ ! -L "$1" ] && [ -O "$1" ] && [ "$(cat "$1/nvidia.icd" 2>/dev/null || true)" = "$nvidia" ]
}

if [ -z "${OCL_ICD_VENDORS:-}" ] && ! nvidia_registered; then
    if nvidia=$(find_nvidia_opencl); then
        # The registered drivers' .icd files and NVIDIA's, in a folder named by their content: made
        # once and never rewritten (concurrent runs cannot see it half-written), so runs leave
        # nothing new behind. One that is not ours is never used: it could name another library.
        listing=$( { for icd in "$vendors"/*.icd; do
                         if [ -f "$icd" ]; then printf '%s: %s\n' "${icd##*/}" "$(cat "$icd" 2>/dev/null || true)"; fi
                     done; echo "nvidia: $nvidia"; } | cksum | cut -d' ' -f1)
        icd_dir=${TMPDIR:-/tmp}/stylize-gpu-icd-$(id -u)-$listing
        if ! usable_icd_dir "$icd_dir" && staging=$(mktemp -d "${TMPDIR:-/tmp}/stylize-gpu-icd.XXXXXX" 2>/dev/null); then
            for icd in "$vendors"/*.icd; do
                if [ -f "$icd" ]; then cp "$icd" "$staging/" 2>/dev/null || true; fi
            done
            echo "$nvidia" > "$staging/nvidia.icd"
            chmod 755 "$staging"
            if ! mv -T "$staging" "$icd_dir" 2>/dev/null; then
                # Another run made it first (then ours goes), or the name is taken by a folder that
                # is not ours, or mv has no -T: this run uses its own folder.
                if usable_icd_dir "$icd_dir"; then rm -rf "$staging"; else icd_dir=$staging; fi
            fi
        fi
        if usable_icd_dir "$icd_dir"; then
            OCL_ICD_VENDORS=$icd_dir
            export OCL_ICD_VENDORS
            names=$(registered_names | tr '\n' ' ' | sed 's/ $//')
            if [ -n "$names" ]; then
                note "the OpenCL drivers registered in $vendors ($names) do not include an installed NVIDIA driver; adding the NVIDIA driver $nvidia (OCL_ICD_VENDORS=$icd_dir)"
            else
                note "no OpenCL driver registered in $vendors; using the NVIDIA driver $nvidia (OCL_ICD_VENDORS=$icd_dir)"
            fi
        else
            note "could not write an OpenCL driver list in ${TMPDIR:-/tmp} to register the NVIDIA driver $nvidia; set OCL_ICD_VENDORS to a folder holding an .icd file that names it"
        fi
    elif [ -z "$(registered_names)" ]; then
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
