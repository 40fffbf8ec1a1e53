#!/usr/bin/env bash
# Train the default models on a lent single-GPU machine, release them here. Three steps:
#
#   bash models/recipe/gpu.sh pack                  # here: prepare the data once, pack it into .gpu/ (carried)
#   MINUTES=6 bash models/recipe/gpu.sh train       # there: train every size in SIZES, both directions at once
#   bash models/recipe/gpu.sh release PARTS_DIR     # here: unpack, choose the size on dev, release, model cards
#
# The GPU machine has PyTorch, Transformers and SentencePiece but no network, no CTranslate2 and no ../shared,
# and returns at most 8 files of 16 MiB (64 MiB in all): so `train` needs only the carried .gpu/work.tgz and
# writes the averaged weights as int8 rows (gpu_weights.py), tarred and cut into parts, to $OUT. Each size
# in SIZES (D_MODELxFFNxHEADS:ENC-DEC; default the shipped size and the widest within the 2x latency budget,
# see README "Choosing a size") trains for both directions side by side, on the same GPU. `release` measures
# every trained run on the dev sets, keeps for each direction the run with the best newstest2020 dev BLEU,
# releases it into models/ and writes the decoding sweep into its card. DEVICE=cpu runs `train` without a
# GPU (a smoke test of the script with MINUTES=1 and a tiny size).
set -euo pipefail
cd "$(dirname "$0")/../.."
PY="${PYTHON:-python3}"
WORK="${WORK:-$HOME/.cache/translator/train-gpu}"
CARRY=.gpu
SIZES="${SIZES:-256x1024x4:6-2 384x1536x6:8-1}"

tag() { echo "${1//:/-}"; }

pack() {
    [ -f "$WORK/spm.model" ] || "$PY" models/recipe/prepare.py --data "${DATA:-$(pwd)/../shared/data}" --work "$WORK"
    mkdir -p "$CARRY"
    tar czf "$CARRY/work.tgz" -C "$WORK" spm.model data-stats.json data/train.en data/train.de
    echo "packed $(du -h "$CARRY/work.tgz" | cut -f1) into $CARRY/work.tgz; run 'gpu.sh train' with carry [\"$CARRY\"]"
}

train() {
    local out="${OUT:?OUT must name the folder that comes back}" device="${DEVICE:-cuda}" there="${GPU_WORK:-/tmp/translator-gpu}"
    local precision=() pids=() size d ffn heads enc dec src tgt
    [ "$device" = cuda ] && precision=(--bf16)
    mkdir -p "$there" "$out" "$there/stage"
    tar xzf "$CARRY/work.tgz" -C "$there"
    for size in $SIZES; do
        IFS='x:-' read -r d ffn heads enc dec <<<"$size"
        for pair in "en de" "de en"; do
            read -r src tgt <<<"$pair"
            "$PY" models/recipe/train.py --work "$there" --run "$there/run-$(tag "$size")-$src-$tgt" \
                --source "$src" --target "$tgt" --d-model "$d" --ffn "$ffn" --heads "$heads" \
                --encoder-layers "$enc" --decoder-layers "$dec" --device "$device" "${precision[@]}" \
                --threads "${THREADS:-3}" --max-tokens "${MAX_TOKENS:-16384}" --lr "${LR:-1.5e-3}" --warmup "${WARMUP:-1500}" \
                --max-minutes "${MINUTES:-6}" --checkpoint-minutes 1 --keep 4 --report-every 200 \
                > "$there/stage/train-$(tag "$size")-$src-$tgt.log" 2>&1 &
            pids+=($!)
        done
    done
    local failed=0
    for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
    tail -n 3 "$there"/stage/train-*.log
    # What trained comes back even if another run failed (its log says why).
    for run in "$there"/run-*; do
        [ -f "$run/checkpoint.pt" ] || { echo "no checkpoint in $run"; failed=1; continue; }
        "$PY" models/recipe/gpu_weights.py pack "$run" "$there/stage/$(basename "$run")" --average "${AVERAGE:-3}"
    done
    tar cf - -C "$there/stage" . | split -b 15m - "$out/gpu-runs.tar.part-"
    ls -la "$out"
    [ "$failed" = 0 ] || { echo "a trainer failed"; exit 1; }
}

release() {
    local parts="${1:?usage: gpu.sh release PARTS_DIR (where the files of the train step came back)}"
    local back="$WORK/gpu-runs" src tgt
    rm -rf "$back" && mkdir -p "$back"
    cat "$parts"/gpu-runs.tar.part-* | tar xf - -C "$back"
    for packed in "$back"/run-*/; do
        local name run_work
        name=$(basename "$packed")
        run_work="$WORK/gpu-${name%-*-*}"
        "$PY" models/recipe/gpu_weights.py unpack "$packed" "$run_work" --prepared "$WORK"
    done
    for pair in "en de" "de en"; do
        read -r src tgt <<<"$pair"
        for run_work in "$WORK"/gpu-*; do
            [ -d "$run_work/run-$src-$tgt" ] || continue
            "$PY" models/recipe/release.py --dev --work "$run_work" --source "$src" --target "$tgt" --average 1 > /dev/null
        done
        local best
        best=$("$PY" models/recipe/gpu_weights.py choose "$WORK" "$src" "$tgt")
        echo "releasing $best for $src-$tgt"
        "$PY" models/recipe/release.py --work "$best" --source "$src" --target "$tgt" --average 1
        "$PY" models/recipe/decoding_sweep.py --source "$src" --target "$tgt" --set news --save
        "$PY" models/recipe/release.py --source "$src" --target "$tgt" --card-only
    done
}

case "${1:-}" in
    pack) pack ;;
    train) train ;;
    release) release "${2:-}" ;;
    *) echo "usage: gpu.sh pack | train | release PARTS_DIR" >&2; exit 2 ;;
esac
