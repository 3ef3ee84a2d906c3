"""`gptstudio sample RUN --prompt TEXT`: generate text from a trained model, streamed as it comes.

RUN is a run name in the workspace, a run folder or nanoGPT out_dir, or a checkpoint file; or
`--init_from=gpt2` samples a pretrained GPT-2 (commands/model_choice.py). Like
nanoGPT's sample.py, each sample is printed with its prompt and followed by a line of dashes.
Information about the model and the speed goes to stderr, so stdout holds only the text.

nanoGPT's sample.py flags work as they are, as `--key=value` or `--key value` (the guide's
`gptstudio sample --out_dir=out-my_dataset --start="..."`): `--out_dir` names the run, `--start` is the
prompt (FILE:path too), `--num_samples`, `--max_new_tokens`, `--top_k` are ours with underscores,
`--init_from=resume` means the run; `--compile` and `--dtype` are accepted and left to the sampler.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

from gptstudio.commands.model_choice import add_model_arguments, open_model
from gptstudio.core.sample_settings import SLIDES, SamplerError, SampleSettings

SEPARATOR = "---------------"


def register(sub) -> None:
    defaults = SampleSettings()
    p = sub.add_parser(
        "sample",
        help="generate text from a trained model (streamed)",
        description="Generate text from a run's checkpoint, streamed to stdout as it "
        "comes. Samples are separated by a line of dashes, as in nanoGPT.",
        epilog="nanoGPT's sample.py flags work too: --out_dir=DIR (the run), --start=TEXT or FILE:path, "
        "--num_samples, --max_new_tokens, --top_k, --init_from=resume; --compile and --dtype are accepted.",
    )
    add_model_arguments(p)
    src = p.add_mutually_exclusive_group()
    src.add_argument(
        "--prompt",
        default="",
        help="text to continue (default: start from a new line); FILE:path reads it from a file, as in nanoGPT",
    )
    src.add_argument("--prompt-file", metavar="F", help="read the prompt from this UTF-8 text file")
    src.add_argument("--start", dest="prompt", default=argparse.SUPPRESS, help=argparse.SUPPRESS)  # nanoGPT's
    p.add_argument(
        "--num-samples",
        type=int,
        default=defaults.num_samples,
        metavar="N",
        help="samples to generate, together in one batch (default %(default)s)",
    )
    add_sampling_arguments(p)
    p.add_argument("--quiet", action="store_true", help="print only the generated text")
    add_nanogpt_aliases(p)
    p.set_defaults(func=run)


def add_sampling_arguments(p, defaults: SampleSettings | None = None) -> None:
    """The generation flags `sample` and `chat` share: length, temperature, top-k/p, penalty, seed,
    stop sequences, unknown characters and the context slide."""
    defaults = defaults or SampleSettings()
    p.add_argument(
        "--max-new-tokens",
        type=int,
        default=defaults.max_new_tokens,
        metavar="N",
        help="tokens to generate per sample (default %(default)s)",
    )
    p.add_argument(
        "--temperature", type=float, default=defaults.temperature, metavar="T", help="0 = greedy (default %(default)s)"
    )
    p.add_argument("--top-k", type=int, default=defaults.top_k, metavar="K", help="0 = off (default %(default)s)")
    p.add_argument("--top-p", type=float, default=defaults.top_p, metavar="P", help="1 = off (default %(default)s)")
    p.add_argument(
        "--repetition-penalty",
        type=float,
        default=defaults.repetition_penalty,
        metavar="R",
        help="1 = off (default %(default)s)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        metavar="S",
        help="same seed and settings = same text (default: random, printed at the end)",
    )
    p.add_argument(
        "--stop",
        action="append",
        default=[],
        metavar="STR",
        help="stop a sample when it writes this text (repeatable; \\n means a line break)",
    )
    p.add_argument(
        "--drop-unknown",
        action="store_true",
        help="drop prompt characters the model's vocabulary lacks instead of refusing",
    )
    p.add_argument(
        "--slide",
        choices=SLIDES,
        default=defaults.slide,
        help="past the context length: exact (as nanoGPT) or fast (half-window re-prefill)",
    )


def add_nanogpt_aliases(p) -> None:
    """nanoGPT's spellings of our flags (underscores), hidden from the help: the epilog names them."""
    hidden = dict(default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    p.add_argument("--num_samples", dest="num_samples", type=int, **hidden)
    p.add_argument("--max_new_tokens", dest="max_new_tokens", type=int, **hidden)
    p.add_argument("--top_k", dest="top_k", type=_top_k, **hidden)
    # nanoGPT sets these for its own model; the sampler chooses its dtype and needs no compiling
    p.add_argument("--compile", dest="nanogpt_compile", **hidden)
    p.add_argument("--dtype", dest="nanogpt_dtype", choices=("float32", "bfloat16", "float16"), **hidden)


def _top_k(text: str) -> int:
    """nanoGPT writes --top_k=None for no cut: ours is 0."""
    return 0 if text.strip() in ("None", "none", "") else int(text)


def _read_prompt(args) -> str:
    path = args.prompt_file
    if path is None and args.prompt.startswith("FILE:"):
        path = args.prompt[len("FILE:") :]
    if path is None:
        return args.prompt
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except (OSError, UnicodeDecodeError) as e:
        raise SamplerError(
            f"Cannot read the prompt file {path}: {e.strerror if isinstance(e, OSError) else e}. "
            "Check the path, and that it is UTF-8 text."
        ) from None


def settings_from_args(args, **overrides) -> SampleSettings:
    values = dict(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        repetition_penalty=args.repetition_penalty,
        seed=args.seed,
        stop=tuple(s.replace("\\n", "\n") for s in args.stop),
        num_samples=getattr(args, "num_samples", 1),
        drop_unknown=args.drop_unknown,
        slide=args.slide,
    )
    return SampleSettings(**{**values, **overrides})


class SamplePrinter:
    """Prints samples in order: the current one live, later ones buffered until it is done."""

    def __init__(self, out, num_samples: int, prompt: str):
        self.out, self.prompt = out, prompt
        self.buffers: list[list[str]] = [[] for _ in range(num_samples)]
        self.done = [False] * num_samples
        self.current = 0
        self._begin()

    def _write(self, text: str) -> None:
        if text:
            self.out.write(text)
            self.out.flush()

    def _begin(self) -> None:
        self._write(self.prompt + "".join(self.buffers[self.current]))

    def _end_current(self) -> None:
        self._write("\n" + SEPARATOR + "\n")
        self.current += 1
        if self.current < len(self.buffers):
            self._begin()
            if self.done[self.current]:
                self._end_current()

    def add(self, piece) -> None:
        if piece.sample == self.current:
            self._write(piece.text)
        else:
            self.buffers[piece.sample].append(piece.text)
        if piece.done:
            self.done[piece.sample] = True
            if piece.sample == self.current:
                self._end_current()

    def finish(self) -> None:
        """End every sample not ended yet (generation stopped early)."""
        while self.current < len(self.buffers):
            self._end_current()


def run(args) -> int:
    prompt = _read_prompt(args)
    settings = settings_from_args(args)
    sampler, _name = open_model(args)
    pieces = sampler.stream(prompt, settings)  # checks the prompt before anything is printed
    if not args.quiet:
        print(f"Sampling from {sampler.summary()}", file=sys.stderr, flush=True)
    printer = SamplePrinter(sys.stdout, settings.num_samples, prompt)
    start, count = time.perf_counter(), 0
    try:
        for piece in pieces:
            printer.add(piece)
            count += 1
        printer.finish()
    except BrokenPipeError:
        # the reader went away (e.g. `| head`): stop quietly, and keep Python from complaining at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    seconds = time.perf_counter() - start
    if not args.quiet:
        rate = count / seconds if seconds > 0 else 0.0
        print(f"{count} tokens in {seconds:.2f} s ({rate:.1f} tokens/s), seed {sampler.last_seed}", file=sys.stderr)
    return 0
