"""The model a command talks to: one of the user's runs (RUN) or a pretrained GPT-2 (--init_from).

Shared by `sample` and `serve` (and any command that generates), so they name models the same way:
RUN is a run name, a run folder or nanoGPT out_dir, or a checkpoint file; `--init_from=gpt2` (or
gpt2-medium, gpt2-large, gpt2-xl, or a Hugging Face GPT-2 folder) opens pretrained weights without
training first, looked up as training's init_from is, exactly as nanoGPT's sample.py does. nanoGPT's
other way of naming the model works too: `--out_dir=DIR` (or a run name) with `--init_from=resume`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from gptstudio.core.errors import GPTStudioError
from gptstudio.core.sample_settings import CHECKPOINT_CHOICES

if TYPE_CHECKING:
    from gptstudio.core.sampler import Sampler


def add_model_arguments(p) -> None:
    p.add_argument(
        "run",
        metavar="RUN",
        nargs="?",
        help="run name, run folder (or nanoGPT out_dir), or checkpoint file (or use --init_from)",
    )
    p.add_argument(
        "--init_from",
        "--init-from",
        dest="init_from",
        metavar="MODEL",
        help="a pretrained GPT-2 instead of a run: gpt2, gpt2-medium, gpt2-large, gpt2-xl, or a Hugging Face "
        "GPT-2 folder (as nanoGPT's sample.py --init_from=gpt2); resume: the run, as RUN or --out_dir=DIR",
    )
    # nanoGPT's name for the run's folder (sample.py --out_dir=out-shakespeare-char): RUN by another name
    p.add_argument("--out_dir", "--out-dir", dest="out_dir", default=None, help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", choices=CHECKPOINT_CHOICES, default="latest")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:N or mps (default auto)")


def open_model(args) -> tuple[Sampler, str]:
    """The Sampler for RUN or --init_from, and the model's name (the run's, or the pretrained one's)."""
    from gptstudio.core.sampler import Sampler  # torch: loaded once a command runs, not at start-up

    if args.run is not None and args.out_dir is not None and args.run != args.out_dir:
        raise GPTStudioError(f"Name the run once: RUN ({args.run}) or --out_dir ({args.out_dir}), not both.")
    run = args.run if args.run is not None else args.out_dir
    pretrained = None if args.init_from == "resume" else args.init_from  # resume: nanoGPT's "from out_dir"
    if (run is None) == (pretrained is None):
        raise GPTStudioError(
            "Name one model: a run (RUN, or --out_dir=DIR as in nanoGPT) or a pretrained GPT-2 (--init_from=gpt2), "
            "not both."
        )
    if pretrained is not None:
        from gptstudio.core.pretrained import find_pretrained
        from gptstudio.core.workspace import Workspace

        if find_pretrained(pretrained, Workspace.open().home) is None:
            print(f"Downloading {pretrained} from the Hugging Face Hub...", file=sys.stderr, flush=True)
        sampler = Sampler.from_pretrained(pretrained, device=args.device)
        return sampler, Path(pretrained).name
    assert run is not None  # one of the two, checked above
    sampler = Sampler.open(run, args.checkpoint, device=args.device)
    path = Path(run)
    return sampler, (path.parent.name if path.is_file() else path.name)
