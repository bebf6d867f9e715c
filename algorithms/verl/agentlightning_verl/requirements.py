"""What a VERL run needs before it starts, checked up front with errors that say how to get it.

VERL, Ray and vLLM are optional (the base distribution only registers the algorithm), and a GPU
run on a machine without a GPU would otherwise fail deep inside a Ray worker minutes later.
"""

from __future__ import annotations

from types import ModuleType

#: The install command every error here ends with.
GPU_INSTALL = 'bash scripts/setup_stable_gpu.sh  (or: pip install "agentlightning-verl[gpu]")'
CPU_INSTALL = 'pip install "agentlightning-verl[verl]"'


class GPUStackError(RuntimeError):
    """The machine lacks part of the GPU stack (a CUDA GPU, VERL, Ray or vLLM)."""


def require_verl() -> ModuleType:
    """The ``verl`` module, or an error naming the extra that installs it."""
    try:
        import verl
    except ImportError as exc:
        raise GPUStackError(
            f"the verl algorithm needs VERL (not installed: {exc}); install it with {CPU_INSTALL} for the "
            f"CPU parts (batches, configs) or {GPU_INSTALL} to train"
        ) from None
    return verl


def require_gpus(n: int = 1) -> int:
    """The number of visible CUDA GPUs, or an error when fewer than ``n`` are visible."""
    try:
        import torch
    except ImportError:
        raise GPUStackError(
            f"the verl algorithm trains on GPUs and needs torch; install it with {GPU_INSTALL}"
        ) from None
    count = torch.cuda.device_count() if torch.cuda.is_available() else 0
    if count < n:
        build = getattr(torch.version, "cuda", None)
        why = (
            "this torch is a CPU build"
            if build is None
            else f"torch {torch.__version__} (CUDA {build}) sees {count}"
        )
        raise GPUStackError(
            f"the verl algorithm trains with VERL's FSDP actor and vLLM on GPUs: it needs {n} CUDA GPU(s) "
            f"(trainer n_gpus_per_node x nnodes) and {why}. On a GPU machine install the stack with "
            f"{GPU_INSTALL}; on a CPU use algorithm='grpo' (agentlightning-grpo) instead"
        )
    return count


def require_gpu_stack(n_gpus: int) -> None:
    """Everything a training run imports: GPUs first (the likeliest miss), then VERL, Ray, vLLM."""
    require_gpus(n_gpus)
    require_verl()
    for module, what in (("ray", "Ray"), ("vllm", "vLLM")):
        try:
            __import__(module)
        except ImportError as exc:
            raise GPUStackError(
                f"the verl algorithm needs {what} ({exc}); install it with {GPU_INSTALL}"
            ) from None
