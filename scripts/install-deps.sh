#!/usr/bin/env bash
# Installs the system packages stylize-gpu needs (idempotent): the OpenCL ICD loader and
# headers, PoCL (OpenCL on the CPU, so every machine has a device), libpng, libjpeg, libtiff,
# Little CMS (colour profiles), OpenBLAS, python3 + pip (weights fetch uses pip), and
# slurm-wlm + munge (the batch command's Slurm test starts a single-node Slurm), ffmpeg (the
# video command reads and writes video files with it), and oclgrind (the tests run the kernels on
# its simulated device: out-of-bounds accesses, data races). Runs apt-get as root or through sudo.
set -euo pipefail

packages=(ocl-icd-opencl-dev opencl-headers pocl-opencl-icd clinfo libpng-dev libjpeg-dev libtiff-dev liblcms2-dev
          libopenblas-dev python3 python3-pip ca-certificates slurm-wlm munge ffmpeg oclgrind)

# python3 and pip may come from elsewhere (pyenv, a venv): ask apt for them only when absent.
have_pip() { command -v python3 >/dev/null && python3 -m pip --version >/dev/null 2>&1; }

missing=()
for p in "${packages[@]}"; do
    if [[ $p == python3* ]] && have_pip; then continue; fi
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
    echo "system packages: all present"
    exit 0
fi

if [ "$(id -u)" -eq 0 ]; then
    sudo=()
elif command -v sudo >/dev/null; then
    sudo=(sudo)
else
    echo "error: installing ${missing[*]} needs root; run this script as root or install sudo" >&2
    exit 1
fi
echo "installing: ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "system packages: installed"
