#!/usr/bin/env bash
# The GPU check of the Array API work, in one run on a machine with a CUDA device:
#   bash benchmarks/gpu.sh [OUT_DIR]
# 1. installs skgd with its test extra into a virtual environment that sees the system's
#    packages (a GPU machine brings its own CUDA build of PyTorch; without one it
#    installs torch==2.13.0 from the package index);
# 2. runs the Array API tests and scikit-learn's Array API checks with torch on CUDA;
# 3. times a full-batch epoch on 10 000 000 x 100 float32, NumPy on the host against
#    torch on the GPU, and reports the gradient's memory bandwidth beside the card's peak.
# Everything it prints is also written to OUT_DIR (default: $OUT, else ./gpu-results).
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT:-gpu-results}}"
mkdir -p "$out"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$out/gpu.txt"
venv="$(mktemp -d)/venv"
python3 -m venv --system-site-packages "$venv"
"$venv/bin/pip" install --quiet -e ".[test]"
"$venv/bin/python" -c "import torch; assert torch.cuda.is_available()" 2>/dev/null \
    || "$venv/bin/pip" install --quiet torch==2.13.0
export SCIPY_ARRAY_API=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/test_array_api.py \
    tests/test_common.py -k "array_api or cuda or torch" -rs 2>&1 | tee "$out/tests.txt"
"$venv/bin/python" -m benchmarks.gpu_epoch 2>&1 | tee "$out/epoch.txt"
