"""`gptstudio export RUN --format hf|safetensors --out DIR`."""

from __future__ import annotations

from gptstudio.core.export import FORMATS, export_run


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a run's model (Hugging Face folder or safetensors)",
        description="Export a run's model: a Hugging Face GPT-2 folder (--format hf) that "
        "transformers loads, or weights + JSON metadata (--format safetensors).",
    )
    p.add_argument("run", help="run name, run folder or checkpoint file")
    p.add_argument("--format", choices=FORMATS, default="hf")
    p.add_argument("--out", required=True, help="output folder (must not exist or be empty)")
    p.add_argument("--checkpoint", choices=("latest", "best"), default="latest")
    p.add_argument("--force", action="store_true", help="replace a non-empty output folder")
    p.set_defaults(func=run)


def run(args) -> int:
    out = export_run(args.run, args.format, args.out, which=args.checkpoint, force=args.force)
    print(f"Exported {args.run} ({args.checkpoint}) as {args.format} to {out}")
    return 0
