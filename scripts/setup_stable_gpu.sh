#!/usr/bin/env bash
# The GPU stack for `algorithm="verl"` / `engine="vllm"`, installed in the order that keeps pip from
# replacing one pinned piece with another: torch, flash-attn, vLLM, VERL, then this repository.
#
#   bash scripts/setup_stable_gpu.sh            # into ./.venv-gpu (created if missing)
#   VENV=/path/to/venv bash scripts/setup_stable_gpu.sh
#   SKIP_FLASH_ATTN=1 bash scripts/setup_stable_gpu.sh   # vLLM and VERL run without it (slower actor)
#
# Why these versions (all on PyPI, checked together on 2026-12-04):
#   verl 0.9.1   the newest VERL; its `vllm` extra pins vllm 0.24.0, torch 2.11.0 and
#                transformers 5.9.0, and its FSDP extra flash-attn 2.8.3 (built for CUDA 13 +
#                torch 2.11). Newer vLLM releases (0.25+) exist but VERL 0.9.1 is tested on 0.24.
#   vllm 0.24.0  has everything the `vllm` engine uses: return_token_ids, log-probs, runtime LoRA
#                (/v1/load_lora_adapter), sleep mode (/sleep, /wake_up), weight reload
#                (/collective_rpc reload_weights) and NCCL/IPC weight transfer.
#   torch 2.11.0 what vllm 0.24.0 is built against (PyPI's wheels are CUDA 13 builds; the driver
#                must support CUDA 13).
# Requirements: Linux x86_64, Python 3.10-3.12 (VERL requires <3.13), an NVIDIA driver for CUDA 13,
# >= 40 GB of GPU memory for the 1.5B examples.
#
# Not run in this repository's CI (no GPU there); see algorithms/verl/README.md for what was run where.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv-gpu}
TORCH_VERSION=2.11.0
FLASH_ATTN_VERSION=2.8.3
VLLM_VERSION=0.24.0
VERL_VERSION=0.9.1

"$PYTHON" - <<'EOF'
import sys
if not ((3, 10) <= sys.version_info[:2] <= (3, 12)):
    sys.exit(f"VERL {__import__('os').environ.get('VERL_VERSION', '0.9.1')} needs Python 3.10-3.12, this is {sys.version.split()[0]}")
EOF
if ! command -v nvidia-smi >/dev/null 2>&1; then
  echo "setup_stable_gpu: no nvidia-smi: this machine has no NVIDIA driver; the VERL/vLLM path needs a GPU." >&2
  echo "On a CPU use 'make install' and algorithm='grpo' instead." >&2
  exit 1
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader

test -x "$VENV/bin/python" || "$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check)
"${PIP[@]}" --upgrade "pip>=24" setuptools wheel packaging ninja

echo "== 1/5 torch $TORCH_VERSION"
"${PIP[@]}" "torch==$TORCH_VERSION" "torchvision==0.26.0" "torchaudio==$TORCH_VERSION"
"$VENV/bin/python" -c "import torch; assert torch.cuda.is_available(), 'torch sees no GPU'; print('torch', torch.__version__, 'CUDA', torch.version.cuda, torch.cuda.get_device_name(0))"

echo "== 2/5 flash-attn $FLASH_ATTN_VERSION (compiles against the torch above; MAX_JOBS bounds memory)"
if [ "${SKIP_FLASH_ATTN:-0}" != 1 ]; then
  MAX_JOBS=${MAX_JOBS:-8} "${PIP[@]}" --no-build-isolation "flash-attn==$FLASH_ATTN_VERSION"
fi

echo "== 3/5 vllm $VLLM_VERSION"
"${PIP[@]}" "vllm==$VLLM_VERSION" "torch==$TORCH_VERSION"

echo "== 4/5 verl $VERL_VERSION"
"${PIP[@]}" "verl[vllm]==$VERL_VERSION" "vllm==$VLLM_VERSION" "torch==$TORCH_VERSION"

echo "== 5/5 Agent Lightning: core, vllm engine, verl algorithm, the examples and what they use"
"${PIP[@]}" -e . -e plugins/vllm -e "algorithms/verl[gpu]" -e plugins/otel \
  -e adapters/autogen -e adapters/langgraph -e examples/calc_x -e examples/spider \
  "vllm==$VLLM_VERSION" "torch==$TORCH_VERSION" "transformers==5.9.0"

"$VENV/bin/python" - <<'EOF'
import torch, transformers, verl, vllm
from agentlightning_core.plugin_manager import AglPluginManager
m = AglPluginManager()
assert "verl" in m.registry("agl_register_algorithms") and "vllm" in m.registry("agl_register_llm_engines")
print(f"ok: torch {torch.__version__} (CUDA {torch.version.cuda}), vllm {vllm.__version__}, verl {verl.__version__}, "
      f"transformers {transformers.__version__}; agl lists verl and vllm")
EOF
echo "Next: $VENV/bin/python scripts/gpu_check_verl.py   (then examples/calc_x/README.md, 'GPU training with VERL')"
