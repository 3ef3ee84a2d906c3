"""A nanoGPT out_dir (its ckpt.pt, maybe a meta.pkl beside it) imported as a run of the workspace.

The checkpoint keeps nanoGPT's keys and gains ours (tokenizer, dataset, config under our names), so the
run resumes with `gptstudio train --resume NAME`, samples, lists and exports like any other. nanoGPT's
meta.pkl is read by core/safe_pickle.py (never runs code), its setting names mapped by core/config.py.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from gptstudio.core.checkpoint import clean_state_dict, load_checkpoint, save_checkpoint
from gptstudio.core.config import TrainConfig, save_config
from gptstudio.core.errors import CheckpointError, GPTStudioError, WorkspaceError
from gptstudio.core.runs import (
    CONFIG_FILE,
    LATEST,
    MetricsLog,
    config_from_checkpoint,
    read_dataset_meta,
    tokenizer_meta,
    write_status,
)
from gptstudio.core.safe_pickle import read_meta_pkl
from gptstudio.core.tokenizer import GPT2_VOCAB, gpt2_meta
from gptstudio.core.workspace import Workspace


def import_nanogpt_run(
    src_dir: str | os.PathLike,
    name: str,
    *,
    home=None,
    dataset: str | None = None,
    meta_pkl: str | os.PathLike | None = None,
) -> Path:
    """Copy a nanoGPT out_dir's ckpt.pt into runs/NAME so it can be resumed, sampled and listed.

    The tokenizer comes from, in order: `dataset` (a prepared dataset of this workspace), `meta_pkl`
    or a meta.pkl beside the checkpoint, the workspace dataset named in the checkpoint's config, and
    GPT-2 BPE for models with GPT-2's vocabulary. Returns the new run folder.
    """
    ws = Workspace.open(home)
    run_dir = ws.run_dir(name)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise WorkspaceError(f"A run named '{name}' already exists: choose another name.")
    src = Path(src_dir).expanduser()
    ckpt = load_checkpoint(src if src.is_file() else src / LATEST)
    cfg = config_from_checkpoint(ckpt)
    if dataset:
        cfg.dataset = dataset
    tok = _tokenizer(ws, ckpt, cfg, dataset, meta_pkl, src if src.is_dir() else src.parent)
    vocab = int(ckpt["model_args"].get("vocab_size") or 0)
    if tok["vocab_size"] > vocab:
        raise CheckpointError(
            f"The tokenizer has {tok['vocab_size']} tokens but the model only {vocab}: "
            "pick the dataset the model was trained on."
        )
    cfg.run_name, cfg.init_from = name, "resume"
    best = ckpt.get("best_val_loss")
    best = float(best) if best is not None and float(best) < 1e9 else None
    payload = {
        **ckpt,
        "model": clean_state_dict(ckpt["model"]),
        "config": cfg.to_dict(),
        "tokenizer": tok,
        "dataset": cfg.dataset,
        "best_val_loss": best if best is not None else math.inf,
        "iter_num": int(ckpt.get("iter_num", 0)),
    }
    run_dir.mkdir(parents=True, exist_ok=True)
    save_checkpoint(payload, run_dir / LATEST)
    save_config(cfg, run_dir / CONFIG_FILE)
    log = MetricsLog(run_dir)
    log.write(
        {
            "type": "message",
            "level": "info",
            "text": f"Imported from nanoGPT checkpoint {src} at iteration {payload['iter_num']}.",
        }
    )
    log.close()
    write_status(
        run_dir,
        status="stopped",
        iter=payload["iter_num"],
        max_iters=cfg.max_iters,
        best_val_loss=best,
        dataset=cfg.dataset,
        tokenizer=tok["tokenizer"],
        reason="Imported from nanoGPT.",
        imported_from=str(src),
    )
    return run_dir


def _tokenizer(ws: Workspace, ckpt: dict, cfg: TrainConfig, dataset, meta_pkl, src_dir: Path) -> dict:
    if dataset:
        return tokenizer_meta(read_dataset_meta(ws.dataset_dir(dataset)))
    if meta_pkl:
        return read_meta_pkl(meta_pkl)
    if (src_dir / "meta.pkl").is_file():
        return read_meta_pkl(src_dir / "meta.pkl")
    vocab = int(ckpt["model_args"].get("vocab_size") or 0)
    named = cfg.dataset
    if named:
        try:
            meta = tokenizer_meta(read_dataset_meta(ws.dataset_dir(named)))
            if meta.get("vocab_size", 0) <= vocab:
                return meta
        except GPTStudioError:
            pass
    if vocab >= GPT2_VOCAB:
        return gpt2_meta()
    raise CheckpointError(
        f"This nanoGPT model has a {vocab}-token character vocabulary: give the dataset it "
        "was trained on (--dataset NAME) or its meta.pkl."
    )
