"""Pretrained GPT-2 weights in Hugging Face format: find them, load them into our GPT, export ours.

Where weights come from, in this order:
1. `init_from` is a local folder or file in Hugging Face format (config.json + model.safetensors or
   pytorch_model.bin);
2. a copy already downloaded into the workspace (`<home>/pretrained/<name>/`);
3. the local Hugging Face cache (`~/.cache/huggingface/hub/models--<name>/snapshots/*/`), if it holds the model;
4. a download from the Hugging Face Hub into the workspace, with progress — only when the machine is online.
Offline with no local copy raises a PretrainedError that says where to put the files.

OpenAI's checkpoints use Conv1D layers (weights stored as in x out): they are transposed into Linear
(out x in). They also use the tanh approximation of GELU ("gelu_new"), which our model supports.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.error
import urllib.request
from pathlib import Path

import torch

from gptstudio.core.errors import Cancelled, CheckpointError
from gptstudio.core.model import GPT, GPTConfig

PRETRAINED_NAMES = ("gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl")
HUB_REPOS = {
    "gpt2": "openai-community/gpt2",
    "gpt2-medium": "openai-community/gpt2-medium",
    "gpt2-large": "openai-community/gpt2-large",
    "gpt2-xl": "openai-community/gpt2-xl",
}
WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
TRANSPOSED = ("attn.c_attn.weight", "attn.c_proj.weight", "mlp.c_fc.weight", "mlp.c_proj.weight")
# OpenAI/HF activation names -> torch GELU approximation
ACTIVATIONS = {"gelu_new": "tanh", "gelu_pytorch_tanh": "tanh", "gelu_fast": "tanh", "gelu": "none"}


class PretrainedError(CheckpointError):
    """Pretrained weights cannot be found or read."""


def hub_endpoint() -> str:
    return os.environ.get("GPTSTUDIO_HF_ENDPOINT") or os.environ.get("HF_ENDPOINT") or "https://huggingface.co"


def hf_cache_dirs(name: str) -> list[Path]:
    """Snapshot folders of the local Hugging Face cache that may hold this model."""
    hub = Path(
        os.environ.get("HF_HUB_CACHE")
        or Path(os.environ.get("HF_HOME", Path.home() / ".cache" / "huggingface")) / "hub"
    )
    out = []
    for repo in {name, HUB_REPOS.get(name, name)}:
        snaps = hub / f"models--{repo.replace('/', '--')}" / "snapshots"
        if snaps.is_dir():
            out += sorted((p for p in snaps.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    return out


def _has_weights(folder: Path) -> bool:
    return (folder / "config.json").is_file() and any((folder / f).is_file() for f in WEIGHT_FILES)


def find_pretrained(init_from: str, home: Path | None = None) -> Path | None:
    """A local folder with the model's config.json and weights, or None if there is none yet."""
    p = Path(init_from).expanduser()
    if p.is_file():
        p = p.parent
    if p.is_dir():
        if _has_weights(p):
            return p
        raise PretrainedError(
            f"{p} has no Hugging Face GPT-2 weights: it needs config.json and model.safetensors (or pytorch_model.bin)."
        )
    if init_from not in PRETRAINED_NAMES:
        raise PretrainedError(
            f"Unknown pretrained model {init_from!r}: use one of {', '.join(PRETRAINED_NAMES)} "
            "or a folder with config.json and model.safetensors."
        )
    candidates = ([Path(home) / "pretrained" / init_from] if home else []) + hf_cache_dirs(init_from)
    return next((c for c in candidates if _has_weights(c)), None)


def download_pretrained(name: str, dest: Path, report=None, cancel=None, timeout: float = 20.0) -> Path:
    """Download config.json + model.safetensors from the Hub into dest (atomically), with progress.

    report(done_bytes, total_bytes) is called as data arrives; cancel (threading.Event) stops it.
    """
    repo = HUB_REPOS.get(name, name)
    tmp = dest.parent / f".tmp-{dest.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        for filename in ("config.json", "model.safetensors"):
            url = f"{hub_endpoint().rstrip('/')}/{repo}/resolve/main/{filename}"
            with urllib.request.urlopen(url, timeout=timeout) as resp, open(tmp / filename, "wb") as out:
                total = int(resp.headers.get("Content-Length") or 0)
                done = 0
                while chunk := resp.read(1 << 20):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("Download cancelled.")
                    out.write(chunk)
                    done += len(chunk)
                    if report:
                        report(done, total)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise PretrainedError(
            f"Cannot download {name} ({getattr(e, 'reason', e)}). This machine seems offline: put the Hugging Face "
            f"files (config.json and model.safetensors from {repo}) into {dest} and try again."
        ) from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def resolve_pretrained(init_from: str, home: Path | None = None, report=None, cancel=None) -> Path:
    """Find the weights locally, else download them (online only); see the module docstring."""
    found = find_pretrained(init_from, home)
    if found is not None:
        return found
    if home is None:
        raise PretrainedError(f"No local copy of {init_from}: pass a folder with config.json and model.safetensors.")
    return download_pretrained(init_from, Path(home) / "pretrained" / init_from, report=report, cancel=cancel)


def read_hf_state_dict(folder: Path) -> dict:
    """The raw tensors of a Hugging Face checkpoint folder, without running code from it."""
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        try:
            return load_file(str(folder / "model.safetensors"))
        except Exception as e:  # SafetensorsError's import path differs between versions
            raise PretrainedError(f"{folder / 'model.safetensors'} is damaged: {e}") from None
    path = folder / "pytorch_model.bin"
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unpickling failure means: unreadable or unsafe
        raise PretrainedError(
            f"{path} cannot be loaded safely (damaged, or it holds code): {str(e).splitlines()[0][:160]}"
        ) from None


def hf_config_to_model_args(hf: dict) -> dict:
    try:
        act = hf.get("activation_function", "gelu_new")
        if act not in ACTIVATIONS:
            raise PretrainedError(f"Unsupported activation {act!r} in config.json.")
        return dict(
            n_layer=int(hf["n_layer"]),
            n_head=int(hf["n_head"]),
            n_embd=int(hf["n_embd"]),
            block_size=int(hf.get("n_positions", hf.get("n_ctx", 1024))),
            vocab_size=int(hf["vocab_size"]),
            bias=True,
            dropout=0.0,
            gelu_approximate=ACTIVATIONS[act],
        )
    except (KeyError, TypeError, ValueError) as e:
        raise PretrainedError(f"config.json is not a GPT-2 config ({e}).") from None


def load_hf_gpt2(folder: str | os.PathLike, block_size: int | None = None, dropout: float | None = None) -> GPT:
    """Build our GPT from a Hugging Face GPT-2 folder; optionally crop the context and set dropout."""
    folder = Path(folder)
    try:
        hf_cfg = json.loads((folder / "config.json").read_text(encoding="utf-8"))
        if not isinstance(hf_cfg, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise PretrainedError(f"Cannot read {folder / 'config.json'}: {e}") from None
    args = hf_config_to_model_args(hf_cfg)
    if dropout is not None:
        args["dropout"] = dropout
    config = GPTConfig(**args)
    if config.problems():
        raise PretrainedError(
            f"{folder / 'config.json'} describes an impossible model: {'; '.join(config.problems())}."
        )
    if not any((folder / f).is_file() for f in WEIGHT_FILES):
        raise PretrainedError(f"{folder} has no weights: it needs model.safetensors or pytorch_model.bin.")
    model = GPT(config)
    sd = model.state_dict()
    # GPT2Model files have bare names ("h.0.attn..."), GPT2LMHeadModel ones "transformer.h.0.attn..."
    src = {
        (k if k.startswith(("transformer.", "lm_head.")) else f"transformer.{k}"): v
        for k, v in read_hf_state_dict(folder).items()
    }
    for k, value in src.items():
        if k.endswith((".attn.bias", ".attn.masked_bias")) or k not in sd:
            continue  # causal-mask buffers, not weights
        if k.endswith(TRANSPOSED):
            value = value.t()
        if value.shape != sd[k].shape:
            raise PretrainedError(f"Weight {k} has shape {tuple(value.shape)}, expected {tuple(sd[k].shape)}.")
        with torch.no_grad():
            sd[k].copy_(value)
    missing = [k for k in sd if k not in src and k != "lm_head.weight"]
    if missing:
        raise PretrainedError(f"{folder} lacks weights for {missing[:3]}{' …' if len(missing) > 3 else ''}.")
    if block_size is not None and block_size < model.config.block_size:
        model.crop_block_size(block_size)
    return model


# ---------- export ----------


def to_hf_state_dict(model: GPT) -> dict:
    """Our weights under Hugging Face GPT2LMHeadModel names (Conv1D layout; zero biases if we have none)."""
    cfg = model.config
    out = {}
    for k, v in model.state_dict().items():
        if k == "lm_head.weight":
            continue  # tied to transformer.wte.weight; HF re-ties it on load
        v = v.detach().to(torch.float32)
        if k.endswith(TRANSPOSED):
            v = v.t()
        out[k] = v.contiguous().clone()
    if not cfg.bias:  # GPT-2 in HF always has biases: zeros give the same outputs
        for name, mod in model.named_modules():
            if hasattr(mod, "weight") and (name.endswith(("c_attn", "c_proj", "c_fc")) or "ln" in name.split(".")[-1]):
                width = mod.weight.shape[0]
                out.setdefault(f"{name}.bias", torch.zeros(width))
    return out


def hf_config(model: GPT, eot_token: int | None, eos_token: int | None = None) -> dict:
    """config.json of a Hugging Face GPT-2. eos_token: where generation ends (default end-of-text; a chat
    model's end-of-turn)."""
    cfg = model.config
    act = "gelu_new" if cfg.gelu_approximate == "tanh" else "gelu"
    return {
        "architectures": ["GPT2LMHeadModel"],
        "model_type": "gpt2",
        "vocab_size": cfg.vocab_size,
        "n_positions": cfg.block_size,
        "n_ctx": cfg.block_size,
        "n_embd": cfg.n_embd,
        "n_layer": cfg.n_layer,
        "n_head": cfg.n_head,
        "n_inner": None,
        "activation_function": act,
        "resid_pdrop": 0.0,
        "embd_pdrop": 0.0,
        "attn_pdrop": 0.0,
        "layer_norm_epsilon": 1e-5,
        "initializer_range": 0.02,
        "bos_token_id": eot_token,
        "eos_token_id": eot_token if eos_token is None else eos_token,
        "tie_word_embeddings": True,
        "torch_dtype": "float32",
    }


def _gpt2_tokenizer_files() -> tuple[Path, Path]:
    """GPT-2's vocab.json (encoder.json) and merges.txt (vocab.bpe) from the installed package data."""
    from gptstudio.core.tokenizer import _gpt2_data_dir

    data = _gpt2_data_dir()
    return data / "encoder.json", data / "vocab.bpe"
