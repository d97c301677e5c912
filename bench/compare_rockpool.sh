#!/usr/bin/env bash
# Times one training step (mse + bounds_cost, Adam) of Rockpool's jax backend
# under jax.jit and of neurojit's JIT, on the same presets and thread count,
# alternating the two so that both see the same machine load, then prints
# the ratios. Rockpool's side is bench/rockpool/bench_rockpool_jax.py.
#
# Set-up once (a virtual environment outside the project):
#   python3 -m venv ~/.venv-rockpool
#   ~/.venv-rockpool/bin/pip install rockpool jax jaxlib optax numpy
#
# Usage:
#   bench/compare_rockpool.sh [--python PATH] [--presets "tiny small medium recurrent"]
#                             [--threads "1 2"] [--rounds N] [--seconds S]
set -euo pipefail
cd "$(dirname "$0")/.."

python="${HOME}/.venv-rockpool/bin/python"
presets="tiny small medium recurrent"
threads="1 2"
# Odd, so that the median of the rounds is one round's figure and a single
# disturbed round cannot move it.
rounds=3
seconds=3
while [ $# -gt 0 ]; do
    case "$1" in
        --python) python="$2"; shift 2 ;;
        --presets) presets="$2"; shift 2 ;;
        --threads) threads="$2"; shift 2 ;;
        --rounds) rounds="$2"; shift 2 ;;
        --seconds) seconds="$2"; shift 2 ;;
        *) echo "unknown option $1" >&2; exit 2 ;;
    esac
done
"$python" -c "import rockpool, jax, optax" 2>/dev/null || {
    echo "error: $python cannot import rockpool, jax and optax (see the set-up in $0)" >&2
    exit 2
}

[ -n "${NEUROJIT:-}" ] || cargo build --release --quiet
out=$(mktemp -d)
echo "results in $out"
for round in $(seq 1 "$rounds"); do
    for preset in $presets; do
        for n in $threads; do
            run_jax() {
                /usr/bin/time -f '%M' -o "$out/jax_rss_${preset}_${n}_${round}" \
                    "$python" bench/rockpool/bench_rockpool_jax.py --config "$preset" --threads "$n" \
                    --min-time "$seconds" --max-time "$((seconds * 4))" --out "$out/jax.jsonl" \
                    > /dev/null 2>&1
            }
            # The anchor script pins itself to the first n cores; neurojit
            # runs with the same affinity (when taskset is there).
            pin=()
            if command -v taskset > /dev/null; then pin=(taskset -c "0-$((n - 1))"); fi
            run_neurojit() {
                /usr/bin/time -f '%M' -o "$out/nj_rss_${preset}_${n}_${round}" \
                    ${pin[@]+"${pin[@]}"} \
                    ${NEUROJIT:-target/release/neurojit} bench --preset "$preset" --backend jit --threads "$n" \
                    --seconds "$seconds" --json | tail -n 1 >> "$out/neurojit.jsonl"
            }
            # Alternate which side runs first.
            if [ $((round % 2)) -eq 1 ]; then run_jax; run_neurojit; else run_neurojit; run_jax; fi
            echo "round $round: $preset, $n thread(s) done"
        done
    done
done

"$python" - "$out" <<'PY'
import json, statistics, sys, glob, os
out = sys.argv[1]
jax = [json.loads(l) for l in open(os.path.join(out, "jax.jsonl"))]
nj = [json.loads(l) for l in open(os.path.join(out, "neurojit.jsonl"))]
def rss(prefix, preset, n):
    values = []
    for f in glob.glob(os.path.join(out, f"{prefix}_rss_{preset}_{n}_*")):
        try:
            values.append(int(open(f).read().split()[-1]))
        except (ValueError, IndexError):
            pass
    return max(values) / 1024 if values else float("nan")
keys = sorted({(r["config"], r["env"]["threads"]) for r in jax},
              key=lambda k: (["tiny", "small", "medium", "recurrent"].index(k[0]), k[1]))
print(f"{'preset':<10} {'thr':>3} {'jax step ms':>12} {'neurojit ms':>12} {'speed-up':>9} "
      f"{'jax compile s':>14} {'nj compile ms':>14} {'compile x':>10} {'jax MiB':>8} {'nj MiB':>8}")
for preset, n in keys:
    j = [r for r in jax if r["config"] == preset and r["env"]["threads"] == n]
    o = [r for r in nj if r["preset"] == preset and r["threads"] == n]
    if not j or not o:
        continue
    j_step = statistics.median(r["step"]["median_s"] for r in j)
    o_step = statistics.median(r["jit"]["step_s"] for r in o)
    j_first = statistics.median(r["first_step_s"] for r in j)
    o_compile = statistics.median(r["jit"]["compile_s"] for r in o)
    print(f"{preset:<10} {n:>3} {j_step*1e3:>12.3f} {o_step*1e3:>12.3f} {j_step/o_step:>8.1f}x "
          f"{j_first:>14.2f} {o_compile*1e3:>14.1f} {j_first/o_compile:>9.0f}x "
          f"{rss('jax', preset, n):>8.0f} {rss('nj', preset, n):>8.0f}")
PY
