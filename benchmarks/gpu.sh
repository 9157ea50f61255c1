#!/usr/bin/env bash
# The GPU check of the Array API work, in one run on a machine with a CUDA device:
#   bash benchmarks/gpu.sh [OUT_DIR]
# 1. makes skgd importable: with a package index, a virtual environment that sees the
#    system's packages (a GPU machine brings its own CUDA build of PyTorch) and
#    `pip install -e ".[test]"`; on a machine that reaches no index, the system's Python
#    with the wheels of what it lacks (array-api-compat, array-api-strict) carried in
#    ./.whl, fetched beforehand where an index is reachable:
#      pip download --no-deps -d .whl array-api-compat array-api-strict
# 2. runs the Array API tests and scikit-learn's Array API checks with PyTorch on CUDA
#    (and CuPy where it is installed);
# 3. times a full-batch epoch on 10 000 000 x 100 float32, NumPy on the host against
#    torch on the GPU, and reports the gradient's memory bandwidth beside the card's peak.
# Everything it prints is also written to OUT_DIR (default: $OUT, else ./gpu-results).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-results}}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
if [ -d .whl ]; then
    python=python3
    "$python" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl
    export PYTHONPATH="$PWD:/tmp/site"
else
    venv="$(mktemp -d)/venv"
    python3 -m venv --system-site-packages "$venv"
    python="$venv/bin/python"
    "$python" -m pip install --quiet -e ".[test]"
fi
"$python" -c "import torch; assert torch.cuda.is_available(), 'PyTorch sees no CUDA device'"
export SCIPY_ARRAY_API=1 PYTHONUNBUFFERED=1
"$python" -m pytest -q -p no:cacheprovider tests/test_array_api.py tests/test_common.py \
    -k "array_api or cuda or torch or cupy" -rs 2>&1 | tee "$out/tests.txt"
"$python" -m benchmarks.gpu_epoch 2>&1 | tee "$out/epoch.txt"
