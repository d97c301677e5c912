#!/usr/bin/env bash
# Counts the instructions one training step of a preset executes in the
# JIT's generated code (every program a step runs: prologue, forward and
# backward steps, epilogue, optimiser), under valgrind's callgrind. Unlike
# a timing, the count does not move with the machine's load, so it tells
# two builds apart where a few percent of step time is lost in noise. It
# is not a time: a division counts as one instruction, and stalls and
# cache misses are not counted at all.
#
# Valgrind has no AVX-512: under it the matmul routines run their AVX2
# kernels (their count is printed, but says little about a host with
# AVX-512), and Cranelift may choose slightly different instructions.
#
# Usage:
#   bench/count_instructions.sh PRESET [NEUROJIT_BINARY]
# Without a binary, builds target/release/neurojit first. Needs valgrind
# (with callgrind_annotate), e.g. `apt-get install valgrind`.
set -euo pipefail

preset="${1:?usage: $0 tiny|small|medium|recurrent [neurojit binary]}"
binary="${2:+$(realpath "$2")}"
cd "$(dirname "$0")/.."
for tool in valgrind callgrind_annotate; do
    command -v "$tool" >/dev/null || {
        echo "error: $tool is not installed" >&2
        exit 2
    }
done
if [ -z "$binary" ]; then
    cargo build --release --quiet
    binary=target/release/neurojit
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# With no time budget the bench runs a fixed number of steps: the first
# (its loss is reported), the rest of the warm-up, then the fewest timed
# steps it allows (see src/bench/measure.rs).
if ! valgrind --tool=callgrind --callgrind-out-file="$out/callgrind" --smc-check=all \
    "$binary" bench --preset "$preset" --backend jit --seconds 0 --json \
    >"$out/bench" 2>"$out/valgrind"; then
    cat "$out/valgrind" >&2
    exit 1
fi
untimed=3 # MeasureOptions::warmup, the first step included
samples=$(tail -n 1 "$out/bench" | sed -n 's/.*"samples": *\([0-9][0-9]*\).*/\1/p')
if ! [[ "$samples" =~ ^[0-9]+$ ]]; then
    echo "error: no sample count in the bench's output:" >&2
    cat "$out/bench" >&2
    exit 1
fi
steps=$((samples + untimed))

# Generated code has no symbols and no file: callgrind lists it as
# `???:0x... [???]`. Only the flat list of functions is read (up to the
# first blank line after its header).
callgrind_annotate --threshold=100 --auto=no "$out/callgrind" |
    awk -v preset="$preset" -v steps="$steps" '
        /file:function/ { listing = 1; next }
        listing && /^-+$/ { next }
        listing && /^$/ { listing = 0 }
        !listing { next }
        { gsub(",", "", $1) }
        / \?\?\?:0x[0-9a-f]+ \[\?\?\?\]$/ { jit += $1 }
        /:(neurojit_compiler::jit::matmul|matrixmultiply::)/ { matmul += $1 }
        END {
            if (jit == 0) {
                print "error: no generated code in callgrind_annotate'"'"'s listing" > "/dev/stderr"
                exit 1
            }
            printf "%s: %d training steps counted\n", preset, steps
            printf "  generated code   %10.0f instructions per step\n", jit / steps
            printf "  matmul routines  %10.0f instructions per step (AVX2 kernels)\n", matmul / steps
        }'
