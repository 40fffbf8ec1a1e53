#!/usr/bin/env bash
# One command for a single-GPU machine: prepare, train both directions side by side on the GPU, release
# (export, int8 conversion, evaluation, model cards), and copy the released files to $OUT.
#
#   OUT=/tmp/out MINUTES=8 bash models/recipe/gpu.sh
#
# Work files (checkpoints) stay in $WORK (default ~/.cache/translator/train-gpu); a second run resumes.
# Model size is set by D_MODEL, FFN, HEADS, ENC, DEC (default: the shipped architecture). DEVICE=cpu runs the
# same steps without a GPU (float32; a smoke test of the script with MINUTES=1, or a long CPU run).
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT="${OUT:-/tmp/translator-release}"
WORK="${WORK:-$HOME/.cache/translator/train-gpu}"
DATA="${DATA:-$(pwd)/../shared/data}"
MINUTES="${MINUTES:-8}"
SIZE=(--d-model "${D_MODEL:-256}" --ffn "${FFN:-1024}" --heads "${HEADS:-4}"
      --encoder-layers "${ENC:-6}" --decoder-layers "${DEC:-2}")
DEVICE="${DEVICE:-cuda}"
PRECISION=(); [ "$DEVICE" = cuda ] && PRECISION=(--bf16)
# The training extra, unless this Python has it already (a machine set up for the project).
python -c "import torch, transformers, translator" 2>/dev/null || python -m pip install --quiet -e '.[train]'
[ -f "$WORK/spm.model" ] || python models/recipe/prepare.py --data "$DATA" --work "$WORK"
train() {
    python models/recipe/train.py --work "$WORK" --source "$1" --target "$2" "${SIZE[@]}" \
        --device "$DEVICE" "${PRECISION[@]}" --threads "${THREADS:-4}" --max-tokens 16384 --lr 1.5e-3 --warmup 1500 \
        --max-minutes "$MINUTES" --checkpoint-minutes 2 --keep 4 --report-every 200
}
# The encoded data is cached by the first trainer; the second starts once it is there.
mkdir -p "$WORK"
train en de > "$WORK/train-en-de.log" 2>&1 &
first=$!
while [ ! -f "$WORK/train.de.npz" ]; do
    kill -0 "$first" 2>/dev/null || { tail -n 20 "$WORK/train-en-de.log"; exit 1; }
    sleep 2
done
sleep 5
train de en > "$WORK/train-de-en.log" 2>&1 &
wait
for pair in "en de" "de en"; do
    set -- $pair
    python models/recipe/release.py --work "$WORK" --source "$1" --target "$2"
done
mkdir -p "$OUT"
cp -r models/en-de models/de-en "$OUT/"
cp "$WORK"/train-*.log "$OUT/"
