#!/usr/bin/env bash
# The serving dependencies that the lent GPU machine lacks, as wheels for its Python (3.12, x86-64) in .whl/
# (git-ignored), to carry with a device run: the machine has no network, and its image holds PyTorch, NumPy,
# SentencePiece, sacrebleu, h11, anyio and uvloop but not CTranslate2, Starlette, uvicorn, websockets, ...
# benchmarks/gpu.sh installs them from .whl/ when it is there. The same versions as this machine's.
#
#   bash benchmarks/gpu_wheels.sh        # then: run(command="OUT=$OUT bash benchmarks/gpu.sh", carry=[".whl"])
#
# Size: CTranslate2's wheel is ~43 MB, the rest ~1.6 MB; with the ~22 MB working tree that is just under the
# 64 MiB a device run can carry (py3langid, 4.5 MB, is left out: only source=auto needs it).
set -euo pipefail
cd "$(dirname "$0")/.."
PACKAGES="${PACKAGES:-ctranslate2 starlette uvicorn websockets wsproto cachetools python-multipart redis httptools}"
rm -rf .whl && mkdir -p .whl
for package in $PACKAGES; do
    version=$(python -c "import importlib.metadata as m; print(m.version('$package'))")
    python -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
        --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
        --platform manylinux2014_x86_64 --platform manylinux_2_5_x86_64 --platform manylinux1_x86_64 \
        --platform any -d .whl "$package==$version"
done
du -ch .whl/* | tail -n 1
