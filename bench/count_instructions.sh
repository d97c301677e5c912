#!/usr/bin/env bash
# Counts the instructions one training step of a preset executes in the
# JIT's generated code, under valgrind's callgrind. Unlike a timing, the
# count does not move with the machine's load, so it can tell two builds
# apart where a few percent of step time is lost in noise. It is not a
# time: stalls, cache misses and divisions count as one instruction each.
#
# Valgrind has no AVX-512, so the matmul routines run their AVX2 kernels
# here; their counts are printed but say little about the usual build.
#
# Usage:
#   bench/count_instructions.sh PRESET [NEUROJIT_BINARY]
# Needs valgrind (e.g. `apt-get install valgrind`).
set -euo pipefail
cd "$(dirname "$0")/.."

preset="${1:?usage: $0 tiny|small|medium|recurrent [neurojit binary]}"
binary="${2:-}"
command -v valgrind >/dev/null || {
    echo "error: valgrind is not installed" >&2
    exit 2
}
if [ -z "$binary" ]; then
    cargo build --release --quiet
    binary=target/release/neurojit
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Under valgrind every step outlasts the tiny time budget, so the number of
# timed steps is fixed by the bench's minimums (or by --max-steps).
valgrind --tool=callgrind --callgrind-out-file="$out/callgrind" --smc-check=all \
    "$binary" bench --preset "$preset" --backend jit --seconds 0.01 --max-steps 10 \
    >"$out/bench" 2>"$out/valgrind"
# Steps run: the first (its loss is reported), two more warm-up steps, then
# the timed samples (see src/bench/measure.rs).
samples=$(sed -n 's/.* \([0-9]*\) samples.*/\1/p' "$out/bench")
steps=$((samples + 3))

# Generated code has no symbols and no file: callgrind lists it as
# `???:0x... [???]`. Only the flat list of functions is read (up to the
# first blank line after its header).
callgrind_annotate --threshold=100 --auto=no "$out/callgrind" 2>/dev/null |
    awk -v preset="$preset" -v steps="$steps" '
        /file:function/ { listing = 1; next }
        listing && /^-+$/ { next }
        listing && /^$/ { listing = 0 }
        !listing { next }
        { gsub(",", "", $1) }
        / \?\?\?:0x[0-9a-f]+ \[\?\?\?\]$/ { jit += $1 }
        /:neurojit_compiler::jit::matmul/ { matmul += $1 }
        END {
            printf "%s: %d training steps counted\n", preset, steps
            printf "  generated code   %10.0f instructions per step\n", jit / steps
            printf "  matmul routines  %10.0f instructions per step (AVX2 kernels)\n", matmul / steps
        }'
