"""`gptstudio export RUN --format hf|safetensors|gguf --out PATH`."""

from __future__ import annotations

from gptstudio.core.export_formats import DEFAULT_QUANT, FORMATS, QUANTS
from gptstudio.core.units import format_bytes


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a run's model (Hugging Face folder, safetensors, or GGUF for llama.cpp/LM Studio/Ollama)",
        description="Export a run's model: a Hugging Face GPT-2 folder (--format hf) that "
        "transformers loads, weights + JSON metadata (--format safetensors), or one .gguf file "
        "(--format gguf) for llama.cpp, LM Studio and Ollama, with an Ollama Modelfile beside it.",
    )
    p.add_argument("run", help="run name, run folder or checkpoint file")
    p.add_argument("--format", choices=FORMATS, default="hf")
    p.add_argument(
        "--out",
        required=True,
        help="hf/safetensors: output folder (must not exist or be empty); gguf: the .gguf file "
        "(or an existing folder to write RUN-QUANT.gguf into)",
    )
    p.add_argument(
        "--quant",
        choices=QUANTS,
        default=DEFAULT_QUANT,
        help="gguf weights: f32 (exact), f16 (half the size), q8_0 (about a quarter) (default %(default)s)",
    )
    p.add_argument("--checkpoint", choices=("latest", "best"), default="latest")
    p.add_argument("--force", action="store_true", help="replace an existing output")
    p.set_defaults(func=run)


def run(args) -> int:
    from gptstudio.core.export import export_gguf, export_run  # torch: loaded by this command only

    if args.format != "gguf":
        out = export_run(args.run, args.format, args.out, which=args.checkpoint, force=args.force)
        print(f"Exported {args.run} ({args.checkpoint}) as {args.format} to {out}")
        return 0
    done = export_gguf(args.run, args.out, quant=args.quant, which=args.checkpoint, force=args.force)
    size = format_bytes(done.path.stat().st_size)
    print(f"Exported {args.run} ({args.checkpoint}) as GGUF {done.quant} to {done.path} ({size})")
    print(f"Ollama Modelfile: {done.modelfile}")
    print("Use it:")
    for tool, line in done.instructions():
        print(f"  {tool + ':' if tool else '':<11}{line}")
    return 0
