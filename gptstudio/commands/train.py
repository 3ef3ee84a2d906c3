"""`gptstudio train`: nanoGPT's `python train.py config/x.py --key=value` as a subcommand.

    gptstudio train [CONFIG_FILE] --dataset NAME [--config FILE] [--name RUN] [--resume RUN] [--jsonl]
                    [--key=value ...]

Settings come, later ones winning, from: the config files (.py nanoGPT style, .json, .toml), the
--key=value settings, then --dataset/--name. Progress goes to stdout, one line per log step; with
--jsonl stdout holds only events, one JSON object per line, problems and warnings included (what
the GUI reads from a torchrun child; the protocol is in docs/ARCHITECTURE.md). Ctrl+C or SIGTERM
stops after the current iteration with a checkpoint; a second Ctrl+C aborts.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import threading
import time
import traceback
import warnings

from gptstudio.core.config import FIELDS, TrainConfig, known_settings, read_config_file, unknown_key_message
from gptstudio.core.errors import ConfigError, GPTStudioError, Problem
from gptstudio.core.events import Eval, Finished, Message, RunStarted, Step
from gptstudio.core.units import format_count, format_duration
from gptstudio.core.workspace import Workspace

EXIT_CODES = {"completed": 0, "stopped": 0, "failed": 1}


def register(sub) -> None:
    p = sub.add_parser(
        "train",
        allow_abbrev=False,
        help="train a model (nanoGPT's train.py settings)",
        description="Train a GPT on a prepared dataset. Settings use nanoGPT's names: "
        "gptstudio train config/train_shakespeare_char.py --device=cpu --max_iters=2000",
        epilog="Any training setting can be given as --key=value (e.g. --n_layer=4 --compile=False "
        "--dtype=float32); `gptstudio train --settings` lists them all.",
    )
    p.add_argument(
        "config_file",
        nargs="?",
        metavar="CONFIG_FILE",
        help="settings file: a nanoGPT config/*.py (read, never run), .json or .toml",
    )
    p.add_argument("--config", action="append", default=[], metavar="FILE", help="another settings file")
    p.add_argument("--dataset", help="prepared dataset to train on")
    p.add_argument("--name", help="run name (default: from the dataset name)")
    p.add_argument("--resume", metavar="RUN", help="continue this run from its last checkpoint")
    p.add_argument("--jsonl", action="store_true", help="print every event as one JSON object per line")
    p.add_argument("--settings", action="store_true", help="list every setting with its default and exit")
    p.set_defaults(func=run, extra_ok=True)


def print_settings(out=None) -> None:
    """Every training setting, by group, with its default, unit and help (from TrainConfig's metadata)."""
    from gptstudio.core.config import GROUPS, field_default, field_meta

    out = out or sys.stdout
    for group in GROUPS:
        print(f"{group}:", file=out)
        for name in FIELDS:
            meta = field_meta(name)
            if meta["group"] != group:
                continue
            unit = f" [{meta['unit']}]" if meta.get("unit") else ""
            print(f"  --{name}={field_default(name)!s}".ljust(38) + f" {meta['help']}{unit}", file=out)


# ----- settings -----


def parse_key_values(extra: list[str]) -> tuple[dict, list[Problem]]:
    """--key=value items (nanoGPT's syntax) into a dict, and a problem for each item that is not one."""
    settings, problems = {}, []
    for item in extra:
        if not item.startswith("--") or "=" not in item:
            problems.append(Problem(f"Cannot read {item!r}: write settings as --key=value (e.g. --n_layer=4)."))
            continue
        key, value = item[2:].split("=", 1)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]  # --out_dir='out-x' as nanoGPT users quote it
        settings[key.replace("-", "_")] = value
    return settings, problems


def gather_settings(args) -> tuple[dict, list[Problem]]:
    """Every setting the user gave (files, then --key=value, then flags), and the problems found."""
    settings, problems = {}, []
    for path in ([args.config_file] if args.config_file else []) + args.config:
        try:
            settings.update(read_config_file(path))
        except ConfigError as e:
            problems += e.problems
    given, bad = parse_key_values(args.extra)
    settings.update(given)
    problems += bad
    if args.dataset:
        settings["dataset"] = args.dataset
    if args.name:
        settings["run_name"] = args.name
    known, unknown = known_settings(settings)
    return known, problems + [Problem(unknown_key_message(key), (), "unknown_key") for key in unknown]


def build_config(args, settings: dict) -> TrainConfig:
    """The TrainConfig to run (for a resume: the run's saved settings, then the user's)."""
    from gptstudio.core.trainer import resume_config

    resume = args.resume or (settings.get("init_from") == "resume" and settings.get("run_name"))
    if resume:
        return resume_config(resume, {k: v for k, v in settings.items() if k not in ("init_from", "run_name")})
    return TrainConfig().update(settings)


def check(args, settings: dict, problems: list[Problem]) -> TrainConfig:
    """Build the config; raise one ConfigError listing every problem (nothing is written)."""
    try:
        cfg = build_config(args, settings)
    except ConfigError as e:
        problems = problems + e.problems
    if problems:
        resume = args.resume or settings.get("init_from") == "resume"
        raise ConfigError(problems + ([] if resume else _validation_problems(_lenient_config(settings))))
    return cfg


def _lenient_config(settings: dict) -> TrainConfig:
    """The settings that can be read, so validation can list the remaining problems too."""
    cfg = TrainConfig()
    for key, value in settings.items():
        with contextlib.suppress(ConfigError):
            cfg.update({key: value})
    return cfg


def _validation_problems(cfg: TrainConfig) -> list[Problem]:
    from gptstudio.core.errors import GPTStudioError
    from gptstudio.core.trainer import plan_run

    try:
        plan_run(cfg, Workspace.open())
    except ConfigError as e:
        return e.problems
    except GPTStudioError as e:
        return [Problem(str(e))]
    return []


# ----- output -----


class ProgressPrinter:
    """Compact human-readable lines for the events of a run."""

    def __init__(self, out=None):
        from gptstudio.core.curves import LossSmoother  # here: numpy is not needed to start the CLI

        self.out = out or sys.stdout
        self.max_iters = 0
        self.start_iter = 0
        self.smoother = LossSmoother()  # the GUI's curves smooth the loss the same way
        self.ms_ema = 0.0
        self.n_logged = 0

    def __call__(self, event) -> None:
        if isinstance(event, RunStarted):
            self.started(event)
        elif isinstance(event, Step):
            self.step(event)
        elif isinstance(event, Eval):
            self.eval(event)
        elif isinstance(event, Message):
            self.print(f"{event.level}: {event.text}" if event.level != "info" else event.text)
        elif isinstance(event, Finished):
            best = f", best val loss {event.best_val_loss:.4f}" if event.best_val_loss is not None else ""
            if event.best_val_bpb is not None:
                best += f" ({event.best_val_bpb:.4f} bits per byte)"
            self.print(f"{event.status} at iter {event.iter}{best}. {event.reason}")

    def print(self, line: str) -> None:
        print(line, file=self.out, flush=True)

    def started(self, e: RunStarted) -> None:
        c = e.config
        self.max_iters, self.start_iter = e.max_iters, e.start_iter
        self.print(
            f"run '{e.run}' on dataset '{c.get('dataset')}': {format_count(e.n_params, sep='')} parameters "
            f"({c.get('n_layer')} layers, {c.get('n_head')} heads, {c.get('n_embd')} wide, "
            f"context {c.get('block_size')})"
        )
        self.print(
            f"{format_count(e.flops_per_iter, billion='G', sep='')}FLOP/iter, "
            f"{e.tokens_per_iter:,} tokens/iter | {e.device} "
            f"{e.dtype}{' compiled' if c.get('compile') else ''}"
            f"{f' x{e.world_size} processes' if e.world_size > 1 else ''} | "
            f"{'resuming at' if e.start_iter else 'starting at'} iter {e.start_iter} of {e.max_iters}"
        )

    def step(self, e: Step) -> None:
        # the smoothed loss (as nanochat prints it), decaying per iteration, not per logged step
        self.n_logged += 1
        smooth = self.smoother.add(e.iter, e.loss)
        # the first interval includes start-up (and compilation): do not let it skew the ETA
        self.ms_ema = e.ms_per_iter if self.n_logged <= 2 else 0.8 * self.ms_ema + 0.2 * e.ms_per_iter
        done = e.iter + 1
        pct = 100.0 * done / self.max_iters if self.max_iters else 100.0
        eta = (self.max_iters - done) * self.ms_ema / 1000
        mfu = f"MFU {e.mfu * 100:.1f}%" if e.mfu >= 0 else "MFU ?"
        width = len(str(self.max_iters))
        self.print(
            f"iter {e.iter:>{width}}/{self.max_iters} ({pct:5.1f}%) | loss {smooth:.4f} | lr {e.lr:.2e} | "
            f"{e.ms_per_iter:.1f} ms/it | {e.tokens_per_sec:,.0f} tok/s | {mfu} | "
            f"{format_duration(e.elapsed)} | ETA {format_duration(eta)}"
        )

    def eval(self, e: Eval) -> None:
        mark = " *" if e.val_loss <= e.best_val_loss else ""
        bpb = f" | bpb train {e.train_bpb:.4f}, val {e.val_bpb:.4f}" if None not in (e.train_bpb, e.val_bpb) else ""
        self.print(
            f"eval {e.iter}: train loss {e.train_loss:.4f}, val loss {e.val_loss:.4f}{mark} "
            f"(best {e.best_val_loss:.4f}){bpb}"
        )
        if e.sample:
            for line in e.sample.strip("\n").splitlines()[:8]:
                self.print(f"  | {line}")


def jsonl_printer(event) -> None:
    """One event as one JSON line (JSON has no inf/NaN: those become null)."""
    record = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in event.to_dict().items()}
    print(json.dumps(record, ensure_ascii=False), flush=True)


# ----- stopping -----


@contextlib.contextmanager
def stop_on_signals(cancel: threading.Event, quiet: bool):
    """SIGINT/SIGTERM set `cancel` (the trainer saves and stops); a second one aborts at once."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, _frame):
        if cancel.is_set():
            raise KeyboardInterrupt
        cancel.set()
        if not quiet:
            print(
                "stopping after this iteration and saving a checkpoint (press Ctrl+C again to abort)",
                file=sys.stderr,
                flush=True,
            )

    signals = [signal.SIGINT] + ([signal.SIGTERM] if hasattr(signal, "SIGTERM") else [])
    previous = {s: signal.signal(s, handler) for s in signals}
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def run(args) -> int:
    from gptstudio.core.trainer import train

    if args.settings:
        print_settings()
        return 0
    if args.jsonl:
        return run_jsonl(args)
    settings, problems = gather_settings(args)
    cancel = threading.Event()
    try:  # the settings are checked here, then by the trainer against the dataset
        cfg = check(args, settings, problems)
        started = time.perf_counter()
        with stop_on_signals(cancel, quiet=False):
            finished = train(cfg, report=ProgressPrinter(), cancel=cancel)
    except ConfigError as e:
        print("gptstudio: error: the settings have problems; nothing was started:", file=sys.stderr)
        for problem in e.problems:
            print(f"  - {problem}", file=sys.stderr)
        return 2
    if os.environ.get("RANK", "0") == "0":
        print(f"total time {format_duration(time.perf_counter() - started)}", file=sys.stderr)
    return EXIT_CODES.get(finished.status, 1)


def run_jsonl(args) -> int:
    """--jsonl: stdout holds only events, whatever happens (the protocol of the GUI's torchrun child,
    docs/ARCHITECTURE.md). Rank 0 reports the run, its settings problems, Python warnings and errors;
    the other ranks only a failure of their own, so nothing arrives once per process."""
    from gptstudio.core.launch import FinishedOnce, failure_events, is_bug
    from gptstudio.core.trainer import train

    rank = int(os.environ.get("RANK", "0") or 0)
    report = FinishedOnce(jsonl_printer)
    cancel = threading.Event()
    warnings_caught = warnings_as_events(report) if rank == 0 else contextlib.nullcontext()
    with stop_on_signals(cancel, quiet=True), warnings_caught:
        try:
            settings, problems = gather_settings(args)
            finished = train(check(args, settings, problems), report=report, cancel=cancel)
        except KeyboardInterrupt:
            if rank == 0:
                report(Finished("stopped", -1, "Aborted by a second interrupt; the last saved checkpoint is kept."))
            return 130
        except Exception as e:
            if is_bug(e):
                traceback.print_exc()  # for the log; the events say it in one sentence
            for event in failure_events(e):
                if rank == 0:
                    report(event)
                elif isinstance(event, Finished) and not isinstance(e, ConfigError):
                    report(Finished(event.status, event.iter, f"Process {rank}: {event.reason}"))
            return 2 if isinstance(e, GPTStudioError) else 1
    if rank != 0 and finished.status == "failed":
        report(Finished(finished.status, finished.iter, f"Process {rank}: {finished.reason}"))
    return EXIT_CODES.get(finished.status, 1)


@contextlib.contextmanager
def warnings_as_events(report):
    """Python warnings (a library's deprecation notice, a hint from torch) as Message events."""
    previous = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        report(Message(f"{category.__name__}: {message}", "warning"))

    warnings.showwarning = show
    try:
        yield
    finally:
        warnings.showwarning = previous
