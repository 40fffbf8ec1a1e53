#!/usr/bin/env bash
# The GPU figures of the README (On a GPU) in one prepared run, for a lent GPU machine with little time:
# raw CTranslate2 cold vs warm by kind of decoding (cuda_diagnose.py), the engine's speed, and a fresh
# CUDA server with the cache off: 64 flat-out streams twice (the first load, then again), REST at 1/16/64
# clients and 16/64 speech-rate streams, each with raw CTranslate2 on the same GPU in the same invocation.
#
#   OUT=/tmp/gpu-bench SENTENCES=test_2016_flickr.en bash benchmarks/gpu.sh
#
# On the lent machine (no network): bash benchmarks/gpu_wheels.sh here first, and carry .whl and the sentence file.
#
# Every step has its own time limit and writes what it prints as it goes (tables; JSON lines for
# cuda_diagnose.py) and its errors to $OUT, so a step cut short keeps what it measured; a failed step does not
# stop the others. SENTENCES (one per line) feeds all steps; default: Multi30k test2016 when ../shared/data has
# it, else the built-in sentences. DEVICE=cpu runs the same steps on the CPU (a check of the script itself).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/gpu-bench}"
PORT="${PORT:-8011}"
DEVICE="${DEVICE:-cuda}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
# The lent machine has no network: the serving dependencies it lacks come as carried wheels (gpu_wheels.sh).
if [ -d .whl ]; then
    "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
    export PYTHONPATH="$(pwd):/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
"$PY" -c "import translator, ctranslate2" || { echo "translator or ctranslate2 missing: carry .whl (gpu_wheels.sh)"; exit 1; }
TRANSLATOR=("$PY" -m translator)
FILE=(); [ -n "${SENTENCES:-}" ] && FILE=(--file "$SENTENCES")
step() {  # step NAME SECONDS COMMAND...: stdout to NAME.out, stderr to NAME.err
    local name=$1 limit=$2; shift 2
    local start=$SECONDS
    timeout "$limit" "$@" > "$OUT/$name.out" 2> "$OUT/$name.err"
    echo "$name: rc $? in $((SECONDS - start)) s" | tee -a "$OUT/steps.txt"
}
{ nvidia-smi; "$PY" -c "import ctranslate2; print('ctranslate2', ctranslate2.__version__, 'cuda devices',
  ctranslate2.get_cuda_device_count())"; } > "$OUT/machine.txt" 2>&1
step cold-start 90 "$PY" benchmarks/cuda_diagnose.py --device "$DEVICE" "${FILE[@]}"
step engine 90 "${TRANSLATOR[@]}" models bench -s en -t de --device "$DEVICE" \
    --compute-types "${COMPUTE_TYPES:-int8_float16,float16}" --batch-sizes 1,8,32,64 --sentences 1000 "${FILE[@]/--file/--src-file}"
TRANSLATOR_DEVICE="$DEVICE" "${TRANSLATOR[@]}" serve --port "$PORT" --cache-size 0 --max-batch 64 > "$OUT/server.log" 2>&1 &
server=$!
for _ in $(seq 120); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.5; done
URL=(--url "http://127.0.0.1:$PORT")
RAW=(--baseline --baseline-batches 1,8,32,64 --baseline-sentences 1000 --device "$DEVICE")
step flat-first 60 "${TRANSLATOR[@]}" bench "${URL[@]}" "${FILE[@]}" --streams 64 --sentences 8 --wpm 0
step flat-again 90 "${TRANSLATOR[@]}" bench "${URL[@]}" "${FILE[@]}" --streams 64 --sentences 8 --wpm 0 --offset 512 \
    "${RAW[@]}"
step rest 90 "${TRANSLATOR[@]}" bench "${URL[@]}" "${FILE[@]}" --rest 1,16,64 --requests 30 "${RAW[@]}"
step speech 100 "${TRANSLATOR[@]}" bench "${URL[@]}" "${FILE[@]}" --streams 16,64 --sentences 4 --wpm 150 "${RAW[@]}"
curl -s "http://127.0.0.1:$PORT/metrics" > "$OUT/metrics.txt"
kill "$server"; wait "$server" 2>/dev/null
echo "done; files in $OUT"
