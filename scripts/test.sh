#!/usr/bin/env bash
# Runs the whole test suite (XCTest) on the native path and every OpenCL device the machine
# has (PoCL's CPU device where there is no GPU). Tests that need the VGG19 weights skip with
# a reason when `stylize-gpu weights fetch` has not been run.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --build-tests
swift test --skip-build "$@"
