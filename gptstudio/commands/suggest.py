"""`gptstudio suggest DATASET --minutes M [--device D]`: the settings that suit a dataset, a device and the
time you have (core/sizing.py), printed as `gptstudio train` flags on stdout, so that

    gptstudio train $(gptstudio suggest mytext --minutes 30)

trains what was suggested. Why (one or two sentences) and any warning go to stderr.
"""

from __future__ import annotations

import sys

from gptstudio.core.errors import DatasetError


def register(sub) -> None:
    p = sub.add_parser(
        "suggest",
        help="suggest a model size and settings for a dataset and the time you have",
        description="Size a model for a prepared dataset, the device and the minutes you have: the shape, "
        "batch, context and number of iterations that fit the device's memory and time (measured on it), "
        "from published scaling results. Prints them as --key=value flags for `gptstudio train`; the "
        "reasons and warnings (overfitting, underfitting) go to stderr.",
    )
    p.add_argument("dataset", metavar="DATASET", help="a prepared dataset of the workspace")
    p.add_argument("--minutes", type=float, required=True, metavar="M", help="the training time you have")
    p.add_argument("--device", help="where to train: auto (default), cpu, cuda, cuda:N or mps")
    p.set_defaults(func=run)


def run(args) -> int:
    from gptstudio.core.config import TrainConfig, validate
    from gptstudio.core.dataset import load_dataset_meta
    from gptstudio.core.sizing import suggest_config
    from gptstudio.core.workspace import Workspace

    folder = Workspace.open().dataset_dir(args.dataset)
    if not folder.is_dir():
        raise DatasetError(
            f"There is no dataset named '{args.dataset}': prepare it first (gptstudio prepare FILE --name "
            f"{args.dataset}), or list them with gptstudio datasets."
        )
    meta = load_dataset_meta(folder)
    base = TrainConfig(dataset=args.dataset, device=args.device or "auto")
    device_problems = [p for p in validate(base, meta) if "device" in p.fields]
    if device_problems:
        raise DatasetError(device_problems[0].message)

    def tell(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    suggestion = suggest_config(meta, args.minutes, base, report=tell)
    tell(suggestion.explanation)
    for warning in suggestion.warnings:
        tell(f"Warning: {warning.message}")
    device = f" --device={args.device}" if args.device else ""
    print(f"--dataset={args.dataset}{device} {suggestion.flags()}")
    return 0
