"""Training: nanoGPT's train.py as functions, with events, checkpoints, resume and a stop button.

Read top to bottom:
  get_lr                  the learning-rate schedule (core/schedule.py, shared with the Config tab)
  Batches                 random contiguous blocks from the memory-mapped token file
  plan_run                resolve and validate every setting before anything is written
  train                   build model, optimizer and data, then loop:
                            stop request?  -> save, Finished(stopped)
                            eval time?     -> train/val loss, sample, checkpoint, early stop
                            one optimizer step (gradient accumulation, clipping, mixed precision)
                            every log_interval: a Step event (loss, lr, tokens/s, MFU)
Only rank 0 of a torchrun job evaluates, reports events and writes files; the other ranks train.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import functools
import math
import os
import shutil
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from gptstudio.core.atomic import atomic_path, remove_stale_temps
from gptstudio.core.chat_dataset import (
    ChatBatches,
    chat_block_problem,
    conversation_tokens,
    is_chat_dataset,
    pad_token,
)
from gptstudio.core.chat_template import is_chat_meta
from gptstudio.core.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from gptstudio.core.config import NO_DATASET, PRETRAINED, TrainConfig, save_config
from gptstudio.core.dataset import dataset_split_sizes
from gptstudio.core.devices import release_cached_memory, resolve_device, resolve_dtype
from gptstudio.core.errors import CheckpointError, ConfigError, GPTStudioError, Problem, TokenizerError
from gptstudio.core.events import CheckpointSaved, Eval, Event, Finished, Message, RunStarted, Step
from gptstudio.core.failures import is_out_of_memory, out_of_memory_message
from gptstudio.core.locks import run_lock
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.nanogpt import import_nanogpt_run
from gptstudio.core.runs import (
    BEST,
    CONFIG_FILE,
    LATEST,
    STOP_FILE,
    MetricsLog,
    apply_architecture,
    bits_per_byte,
    config_from_checkpoint,
    init_checkpoint,
    list_runs,
    read_dataset_meta,
    read_metrics,
    tokenizer_meta,
    write_status,
)
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.schedule import get_lr
from gptstudio.core.tokenizer import GPT2_VOCAB, padded_vocab_size, same_vocabulary
from gptstudio.core.workspace import Workspace

if TYPE_CHECKING:  # torch builds without distributed support lack it
    from torch.distributed import ProcessGroup

__all__ = [
    "Batches",
    "get_lr",
    "import_nanogpt_run",
    "list_runs",
    "measure_matmul_peak",
    "peak_flops",
    "plan_run",
    "read_metrics",
    "resume_config",
    "train",
]

PT_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}
STATUS_EVERY_S = 5.0  # status.json is rewritten at most this often between evals (it fsyncs)
# what the ranks agree on each iteration (max wins): keep going, stop, early stop, diverged
GO, STOP, EARLY_STOP, DIVERGED = 0, 1, 2, 3


# ----- data -----


class Batches:
    """Random contiguous blocks of block_size + 1 tokens from a .bin file (nanoGPT's loader).

    The file is memory-mapped anew for every batch (~50 us): a long-lived memmap keeps every page it
    ever touched in the process's resident memory, which on a big dataset looks like a leak. One
    fancy-indexing gather replaces nanoGPT's per-row Python loop (~6x faster). Rows come from a
    numpy Generator whose state goes into checkpoints, so a resumed run sees the same batches.
    """

    def __init__(self, path: Path, dtype, block_size: int, batch_size: int, device: str, rng: np.random.Generator):
        self.path, self.dtype = Path(path), np.dtype(dtype)
        self.n_tokens = self.path.stat().st_size // self.dtype.itemsize
        self.block_size, self.batch_size, self.device, self.rng = block_size, batch_size, device, rng
        self.offsets = np.arange(block_size + 1)
        self.pin = device.startswith("cuda")  # pinned host memory lets the copy to the GPU run async

    def next(self):
        data = np.memmap(self.path, dtype=self.dtype, mode="r")
        starts = self.rng.integers(0, self.n_tokens - self.block_size, size=self.batch_size)
        block = torch.from_numpy(data[starts[:, None] + self.offsets].astype(np.int64))
        if self.pin:
            block = block.pin_memory().to(self.device, non_blocking=True)
        return block[:, :-1].contiguous(), block[:, 1:].contiguous()


# ----- performance accounting -----


@functools.cache
def _measured_peak(device: str, dtype: str, threads: int) -> float:
    n = 1024
    gen = torch.Generator().manual_seed(0)  # never the global generator: runs must not depend on this
    a = torch.randn(n, n, generator=gen).to(device, PT_DTYPES[dtype])
    b = torch.randn(n, n, generator=gen).to(device, PT_DTYPES[dtype])
    out = torch.empty_like(a)
    sync = torch.mps.synchronize if device == "mps" else (lambda: None)
    best = math.inf
    deadline = time.perf_counter() + 1.0
    for i in range(12):
        t0 = time.perf_counter()
        torch.mm(a, b, out=out)
        sync()
        if i >= 2:  # the first calls warm up caches and thread pools
            best = min(best, time.perf_counter() - t0)
        if time.perf_counter() > deadline and best < math.inf:
            break
    return 2 * n**3 / best


def measure_matmul_peak(device: str = "cpu", dtype: str = "float32") -> float:
    """FLOP/s of a 1024x1024 matmul here (best of a few runs, about 0.1-1 s once per process).

    A CPU has no datasheet peak worth quoting, so MFU on CPU is measured against what its own
    best matmul achieves: 50% then means half of what this machine can do on dense math.
    """
    return _measured_peak(device, dtype, torch.get_num_threads())


def cpu_threads(processes: int = 1) -> int:
    """Threads per process: the physical cores this process may use, shared by `processes`.

    Hyper-threads do not speed up matmuls (they share the core's vector units) and an extra
    thread per core makes every parallel region wait for the slowest one.
    """
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        usable = os.cpu_count() or 1
    try:
        import psutil

        physical = psutil.cpu_count(logical=False) or usable
    except ImportError:  # pragma: no cover - psutil is a dependency
        physical = usable
    return max(1, min(usable, physical) // max(1, processes))


# dense bf16/fp16 tensor-core peaks (FLOP/s) by GPU name; nanoGPT uses the A100's 312e12 for all
GPU_PEAKS = [
    ("H200", 989e12),
    ("H100", 989e12),
    ("GH200", 989e12),
    ("B200", 2250e12),
    ("A100", 312e12),
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L40", 181e12),
    ("A6000", 155e12),
    ("A10", 125e12),
    ("L4", 121e12),
    ("4090", 165e12),
    ("3090", 71e12),
    ("V100", 125e12),
    ("T4", 65e12),
]


def peak_flops(device: str, dtype: str) -> float:
    """The FLOP/s that MFU is measured against on this device."""
    if device.startswith("cuda"):
        name = torch.cuda.get_device_name(torch.device(device))
        peak = next((p for key, p in GPU_PEAKS if key in name), 312e12)
        return peak if dtype != "float32" else peak / 2  # fp32 runs as TF32 at about half the rate
    return measure_matmul_peak(device.split(":")[0], dtype)


# ----- torchrun -----


@dataclass
class Distributed:
    """This process's place in a torchrun job (rank 0 of 1 when run alone)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: str | None = None  # set under torchrun: one device per local rank
    stop_group: ProcessGroup | None = None  # a gloo group for the per-iteration stop vote (no GPU sync)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or self.device is not None

    @property
    def master(self) -> bool:
        return self.rank == 0

    def agree(self, code: int) -> int:
        """The largest code any rank proposes, so every rank stops at the same iteration."""
        if not self.enabled:
            return code
        import torch.distributed as dist

        t = torch.tensor([code], dtype=torch.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.stop_group)
        return int(t.item())

    def close(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            if dist.is_initialized():
                # leave together: a rank that tears down its connections while rank 0 still writes the
                # last checkpoint can make gloo abort rank 0 (seen as SIGABRT at the end of a job)
                try:
                    dist.barrier(group=self.stop_group)
                except Exception:  # a peer is already gone: nothing left to wait for
                    pass
                dist.destroy_process_group()


def init_distributed(cfg: TrainConfig) -> Distributed:
    """Join the torchrun job described by RANK/LOCAL_RANK/WORLD_SIZE, if any."""
    if "RANK" not in os.environ:
        return Distributed()
    import torch.distributed as dist

    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", 0))
    world_size = int(os.environ.get("WORLD_SIZE", 1))
    use_cuda = torch.cuda.is_available() and resolve_device(cfg.device).startswith("cuda")
    if use_cuda:
        device = f"cuda:{local_rank}"
        torch.cuda.set_device(device)
    else:
        device = "cpu"
    dist.init_process_group(backend=cfg.backend if use_cuda else "gloo")
    # the stop vote runs every iteration: on a CPU (gloo) group it never waits for the GPU
    stop_group = dist.new_group(backend="gloo") if use_cuda else None
    return Distributed(rank, local_rank, world_size, device, stop_group)


# ----- planning: every setting resolved and checked before anything is written -----


@dataclass
class Plan:
    cfg: TrainConfig
    home: Path
    run_dir: Path
    dataset_dir: Path
    data_dtype: str
    tokenizer: dict  # tokenizer meta (char vocabulary or gpt2; a chat model's has its template)
    vocab_size: int | None  # the model's (may be padded above the tokenizer's); None: the weights'
    checkpoint: dict | None = None  # the run's own checkpoint, when resuming
    init_checkpoint: dict | None = None  # another run's checkpoint a new run starts from (fine-tuning)
    chat: bool = False  # a chat dataset: packed conversations, loss on the replies only


def warm_up(*, report=None, cancel=None) -> None:
    """One training step of a very small model, as a job run before the first real one.

    A process's first step loads what it lazily needs: the first use of a torch optimizer imports
    torch._dynamo, and with it sympy and torch's compiler stack (seconds of imports, some holding
    the GIL for half a second at a time), and the first backward and AdamW step set up their engine
    and kernels. A window runs this in the background once it is up, so that its first Start (or
    speed measurement) does not stall the GUI while the run's first points come in."""
    with torch.random.fork_rng(devices=[]):  # the random state stays as it was
        model = GPT(GPTConfig(n_layer=1, n_head=1, n_embd=8, block_size=8, vocab_size=8, dropout=0.0, bias=False))
        optimizer = model.configure_optimizers(0.1, 1e-3, (0.9, 0.95), "cpu")
        x = torch.zeros((1, 8), dtype=torch.long)
        _, loss = model(x, x)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()


def resume_config(run_name: str, overrides: dict | None = None, *, home=None) -> TrainConfig:
    """Settings to continue a run: its saved settings, then `overrides` (what the user changed).

    The architecture always comes from the checkpoint. Machine settings (device, dtype, compile,
    backend) are not carried over: a run started on a GPU can continue on a laptop.
    """
    ws = Workspace.open(home)
    run_dir = ws.run_dir(run_name)
    ckpt = load_checkpoint(run_dir / LATEST)
    cfg = config_from_checkpoint(ckpt)
    cfg.update({k: v for k, v in (overrides or {}).items() if k not in ("init_from", "run_name", "out_dir")})
    cfg.init_from, cfg.run_name = "resume", run_name
    return apply_architecture(cfg, ckpt)


def plan_run(config: TrainConfig, ws: Workspace, world_size: int = 1) -> Plan:
    """Resolve the run (name, dataset, tokenizer, checkpoint) and list every problem at once.

    Raises ConfigError (all problems), or CheckpointError/WorkspaceError for a single blocking one.
    Writes nothing.
    """
    cfg = copy.deepcopy(config)
    problems: list[Problem] = []
    ckpt = init_ckpt = None
    if cfg.init_from == "resume":
        if not cfg.run_name:
            raise ConfigError("init_from=resume needs the name of the run to continue (--resume NAME).")
        run_dir = ws.run_dir(cfg.run_name)
        ckpt = load_checkpoint(run_dir / LATEST)
        apply_architecture(cfg, ckpt)
        cfg.dataset = cfg.dataset or ckpt.get("dataset") or str((ckpt.get("config") or {}).get("dataset", ""))
    else:  # scratch, pretrained GPT-2 weights (a name or a local folder), or another run's checkpoint
        init_ckpt, more = _init_checkpoint(cfg, ws)
        problems += more
        if not cfg.run_name:
            cfg.run_name = ws.unique_run_name(cfg.dataset or "run")
        try:
            run_dir = ws.run_dir(cfg.run_name)
        except GPTStudioError as e:
            problems.append(Problem(str(e), ("run_name",), "run_name"))
            run_dir = None
        if run_dir and (run_dir / LATEST).exists():
            problems.append(
                Problem(
                    f"A run named '{cfg.run_name}' already exists: choose another name, or continue "
                    f"it with --resume {cfg.run_name}.",
                    ("run_name",),
                    "run_exists",
                )
            )

    meta = None
    if not cfg.dataset:
        problems.append(
            Problem(
                "No dataset chosen: prepare one (Dataset tab or `gptstudio prepare`) and pass --dataset NAME.",
                ("dataset",),
                NO_DATASET,
            )
        )
    else:
        try:
            dataset_dir = ws.dataset_dir(cfg.dataset)
            meta = read_dataset_meta(dataset_dir)
        except GPTStudioError as e:
            problems.append(Problem(str(e), ("dataset",), "dataset"))
    problems += [p for p in cfg.validate(meta) if p.code != NO_DATASET]  # reported above, by name

    tok = vocab_size = None
    chat = is_chat_dataset(meta)
    if meta is not None:
        if init_ckpt is not None:
            tok, vocab_size, more = _fine_tune_tokenizer(cfg, meta, init_ckpt)
        else:
            tok, vocab_size, more = _resolve_tokenizer(cfg, meta, ckpt)
        problems += more
        if chat and not more:
            problem = chat_block_problem(dataset_dir, cfg.block_size)
            if problem:
                problems.append(Problem(problem, ("block_size",), "block_size"))
    if world_size > 1 and cfg.gradient_accumulation_steps % world_size:
        problems.append(
            Problem(
                f"gradient_accumulation_steps ({cfg.gradient_accumulation_steps}) must be a multiple "
                f"of the number of processes ({world_size}).",
                ("gradient_accumulation_steps",),
                "world_size",
            )
        )
    problems += _logger_problems(cfg)
    if problems:
        raise ConfigError(problems)
    # each of these is None only together with a problem, raised just above
    assert run_dir is not None and meta is not None and tok is not None
    return Plan(cfg, ws.home, run_dir, dataset_dir, meta.get("dtype", "uint16"), tok, vocab_size, ckpt, init_ckpt, chat)


def _init_checkpoint(cfg: TrainConfig, ws: Workspace) -> tuple[dict | None, list[Problem]]:
    """For a new run: the checkpoint it starts from (init_from = a run or checkpoint file), with the
    model shape forced onto cfg, or None (scratch, GPT-2 weights); and the problems found."""
    if cfg.init_from == "scratch":
        return None, []
    try:
        path = init_checkpoint(cfg.init_from, ws.home)
        if path is None:
            from gptstudio.core.pretrained import find_pretrained

            find_pretrained(cfg.init_from, ws.home)  # refuses unknown names and folders without weights
            return None, []
        ckpt = load_checkpoint(path)
    except GPTStudioError as e:
        message = str(e)
        if cfg.init_from not in PRETRAINED and not Path(cfg.init_from).expanduser().exists():
            runs = ", ".join(ws.run_names()[:8]) or "none yet"
            message = (
                f"init_from is {cfg.init_from!r}, which is neither one of your runs ({runs}), a checkpoint "
                f"file, nor GPT-2 weights ({', '.join(PRETRAINED)} or a folder): check the name."
            )
        return None, [Problem(message, ("init_from",), "init_from")]
    ckpt.pop("optimizer", None)  # a new run: fresh optimizer state, iteration 0
    block = cfg.block_size
    apply_architecture(cfg, ckpt)
    # a shorter context crops the position embeddings; a longer one than the model has is not possible,
    # so (as when starting from GPT-2) the model's own context is used
    cfg.block_size = min(block, cfg.block_size)
    return ckpt, []


def _fine_tune_tokenizer(cfg: TrainConfig, meta: dict, ckpt: dict):
    """Tokenizer and model vocabulary for a run starting from another run's checkpoint: the dataset must
    use the same ordinary vocabulary; chat data adds its special tokens as new rows."""
    data_tok = tokenizer_meta(meta)
    base = ckpt.get("tokenizer")
    source = cfg.init_from
    if not isinstance(base, dict):
        return (
            None,
            None,
            [
                Problem(
                    f"The checkpoint {source} does not record its tokenizer (a plain nanoGPT file): import it "
                    "first with gptstudio import-nanogpt-run.",
                    ("init_from",),
                    "tokenizer",
                )
            ],
        )
    if not same_vocabulary(base, data_tok):
        return (
            None,
            None,
            [
                _dataset_problem(
                    f"Dataset '{cfg.dataset}' was tokenized differently from {source}: prepare it with that "
                    f"model's tokenizer (gptstudio prepare ... --tokenizer-from {source})."
                )
            ],
        )
    model_vocab = int(ckpt["model_args"].get("vocab_size", 0))
    return data_tok, max(model_vocab, data_tok["vocab_size"]), []


def _resolve_tokenizer(cfg: TrainConfig, meta: dict, ckpt: dict | None):
    """The run's tokenizer and model vocabulary size, and any mismatch with the dataset."""
    data_tok = tokenizer_meta(meta)
    if data_tok.get("tokenizer") not in ("char", "gpt2", "bpe") or not isinstance(data_tok.get("vocab_size"), int):
        return (
            None,
            None,
            [_dataset_problem(f"Dataset '{cfg.dataset}' has no usable tokenizer in its meta.json: prepare it again.")],
        )
    if ckpt is None and cfg.init_from != "scratch":
        if not same_vocabulary(data_tok, {"tokenizer": "gpt2"}):
            return (
                None,
                None,
                [
                    Problem(
                        f"init_from={cfg.init_from} needs a dataset tokenized with GPT-2 BPE; "
                        f"'{cfg.dataset}' is {data_tok['tokenizer']}-level: prepare it with the gpt2 tokenizer.",
                        ("init_from", "dataset"),
                        "tokenizer",
                    )
                ],
            )
        # the vocabulary is the pretrained model's, plus a chat template's special tokens
        return data_tok, (data_tok["vocab_size"] if data_tok["vocab_size"] > GPT2_VOCAB else None), []
    if ckpt is None:
        return data_tok, padded_vocab_size(data_tok["vocab_size"]), []
    tok = ckpt.get("tokenizer") or data_tok  # a nanoGPT checkpoint: the dataset's meta.json says
    vocab = int(ckpt["model_args"].get("vocab_size", 0))
    problems = []
    if not same_vocabulary(tok, data_tok):
        problems.append(
            _dataset_problem(
                f"Dataset '{cfg.dataset}' was tokenized differently from run '{cfg.run_name}' "
                "(another vocabulary): continue it on the dataset it was trained on."
            )
        )
    elif is_chat_meta(data_tok) and not is_chat_meta(tok):
        problems.append(
            _dataset_problem(
                f"Dataset '{cfg.dataset}' holds conversations but run '{cfg.run_name}' is a base model: "
                f"fine-tune it for chat in a new run (--init_from={cfg.run_name})."
            )
        )
    elif data_tok["vocab_size"] > vocab:
        problems.append(
            _dataset_problem(
                f"Dataset '{cfg.dataset}' has {data_tok['vocab_size']} tokens in its vocabulary "
                f"but the model only {vocab}."
            )
        )
    return tok, vocab, problems


def _dataset_problem(message: str) -> Problem:
    return Problem(message, ("dataset",), "tokenizer")


def _logger_problems(cfg: TrainConfig) -> list[Problem]:
    import importlib.util

    problems = []
    for setting, package in (("wandb_log", "wandb"), ("tensorboard_log", "tensorboard")):
        if getattr(cfg, setting) and importlib.util.find_spec(package) is None:
            if getattr(sys, "frozen", False):  # the desktop bundle leaves both out (packaging/bundle_plan.py)
                how = ", which the desktop bundle leaves out: install GPT Studio with pip to use it"
            else:
                how = f": pip install {package}"
            problems.append(
                Problem(
                    f"{setting}=True needs the {package} package{how} (or set {setting}=False).",
                    (setting,),
                    "missing_package",
                )
            )
    return problems


# ----- the run -----


def train(config: TrainConfig, *, home=None, report=None, cancel: threading.Event | None = None) -> Finished:
    """Train as `config` says; report typed events; return the Finished event.

    For init_from="resume" build `config` with resume_config(name, overrides) so the run's saved
    settings carry over. `cancel` (or a STOP file in the run folder) stops within one iteration,
    after saving a checkpoint. Invalid settings raise ConfigError before anything is written; NaN
    loss and out-of-memory end the run with Finished(status="failed") and a readable reason.
    """
    dist = init_distributed(config)
    try:
        ws = Workspace.open(home)
        plan = plan_run(config, ws, dist.world_size)
        # one writer per run: a second GUI/CLI process is refused with the holder's name
        lock = run_lock(ws.runs_dir, plan.cfg.run_name) if dist.master and not plan.cfg.eval_only else None
        with lock or contextlib.nullcontext():
            if lock is not None:  # a killed trainer may have left half-written checkpoint temp files
                remove_stale_temps(ws.runs_dir / plan.cfg.run_name)
            return Session(plan, dist, report, cancel or threading.Event()).run()
    finally:
        dist.close()
        release_cached_memory(dist.device or config.device)  # the app trains in its own process


@dataclass
class Outcome:
    status: str  # completed | stopped | failed
    reason: str
    save: bool = True  # save a last checkpoint (not after divergence or a crash mid-step)


class Session:
    """One training session of a run: everything built from a Plan, then the loop."""

    def __init__(self, plan: Plan, dist: Distributed, report, cancel: threading.Event):
        self.plan, self.cfg, self.dist = plan, plan.cfg, dist
        self.report, self.cancel = report, cancel
        self.run_dir = plan.run_dir
        self.stop_file = self.run_dir / STOP_FILE
        self.metrics: MetricsLog | None = None
        self.loggers: list = []
        self.tokenizer = None
        self.split_text: dict[str, tuple[int, int]] = {}  # (tokens, bytes of text) per split
        self.t_start = time.perf_counter()
        self._status_time = 0.0

    # --- setup ---

    def _setup(self) -> None:
        cfg, dist, ckpt = self.cfg, self.dist, self.plan.checkpoint
        self.device = dist.device or resolve_device(cfg.device)
        self.device_type = self.device.split(":")[0]
        self.dtype = resolve_dtype(cfg.dtype, self.device)
        torch.manual_seed(cfg.seed + dist.rank)
        if self.device_type == "cpu" and "OMP_NUM_THREADS" not in os.environ:
            torch.set_num_threads(cpu_threads(int(os.environ.get("LOCAL_WORLD_SIZE", 1))))
        if self.device_type == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 matmuls, as nanoGPT enables
        self.autocast = (
            torch.autocast(self.device_type, dtype=PT_DTYPES[self.dtype])
            if self.dtype != "float32"
            else contextlib.nullcontext()
        )
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.dtype == "float16")

        self.model = self._build_model()
        self.model_args = dataclasses.asdict(self.model.config)
        if self.model_args.get("gelu_approximate") == "none":
            del self.model_args["gelu_approximate"]  # nanoGPT's sample.py rejects keys it does not know
        for key in ("n_layer", "n_head", "n_embd", "block_size", "bias"):
            setattr(cfg, key, self.model_args[key])  # the settings say what was really built
        self.optimizer = self.model.configure_optimizers(
            cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2), self.device_type
        )
        self.iter_num, self.best_val_loss, self.evals_without_improvement = 0, math.inf, 0
        rng = np.random.default_rng([cfg.seed, dist.rank])
        if ckpt is not None:
            rng = self._restore(ckpt, rng)
        self.start_iter = self.iter_num

        self.forward_model: nn.Module = self.model  # what the training step calls: maybe compiled, maybe DDP
        if cfg.compile:
            self.forward_model = cast(nn.Module, torch.compile(self.model))  # typed as a plain callable
        if dist.enabled:
            ids = [dist.local_rank] if self.device_type == "cuda" else None
            self.forward_model = DDP(self.forward_model, device_ids=ids)
        self.grad_accum = cfg.gradient_accumulation_steps // dist.world_size
        self.batches = self._batches("train", rng)
        self.tokens_per_iter = self.grad_accum * dist.world_size * cfg.batch_size * cfg.block_size
        self.flops_per_iter = self.model.flops_per_token() * self.tokens_per_iter
        self.peak = peak_flops(self.device, self.dtype) if dist.master else 0.0

    def _batches(self, split: str, rng: np.random.Generator):
        """Training data of a split: random blocks of text, or packed conversations with a loss mask."""
        plan, cfg = self.plan, self.cfg
        if plan.chat:
            return ChatBatches(
                plan.dataset_dir,
                split,
                plan.data_dtype,
                cfg.block_size,
                cfg.batch_size,
                self.device,
                rng,
                pad_token(plan.tokenizer),
            )
        return Batches(
            plan.dataset_dir / f"{split}.bin", plan.data_dtype, cfg.block_size, cfg.batch_size, self.device, rng
        )

    def _build_model(self) -> GPT:
        cfg, plan = self.cfg, self.plan
        if plan.checkpoint is not None:
            return model_from_checkpoint(plan.checkpoint, self.device, dropout=cfg.dropout)
        if cfg.init_from == "scratch":
            assert plan.vocab_size is not None  # plan_run sizes every model made from scratch
            return GPT(GPTConfig(**cfg.model_args(plan.vocab_size))).to(self.device)
        if plan.init_checkpoint is not None:  # fine-tuning one of the user's runs
            model = model_from_checkpoint(plan.init_checkpoint, "cpu", dropout=cfg.dropout)
            if cfg.block_size < model.config.block_size:
                model.crop_block_size(cfg.block_size)
        else:
            from gptstudio.core.pretrained import find_pretrained, load_hf_gpt2, resolve_pretrained

            if find_pretrained(cfg.init_from, plan.home) is None and self.dist.master:
                self.emit(Message(f"Downloading {cfg.init_from} from the Hugging Face Hub..."))
            folder = resolve_pretrained(cfg.init_from, plan.home, cancel=self.cancel)
            model = load_hf_gpt2(folder, block_size=cfg.block_size, dropout=cfg.dropout)
        if plan.vocab_size:
            model.grow_vocab(plan.vocab_size)  # a chat template's special tokens
        return model.to(self.device)

    def _restore(self, ckpt: dict, rng: np.random.Generator) -> np.random.Generator:
        """Optimizer, counters and random state of a checkpoint (ours or nanoGPT's)."""
        cfg, dist = self.cfg, self.dist
        if ckpt.get("optimizer"):
            # keep this machine's kernel choice (fused/foreach), not the saving machine's: set before
            # loading, so the loaded step counters land where the fused kernel expects them
            state = ckpt["optimizer"]
            try:
                groups = [
                    {**saved, **{k: mine[k] for k in ("fused", "foreach", "capturable") if k in mine}}
                    for saved, mine in zip(state["param_groups"], self.optimizer.param_groups)
                ]
                self.optimizer.load_state_dict({**state, "param_groups": groups})
            except (ValueError, KeyError, RuntimeError, TypeError) as e:
                raise CheckpointError(f"The checkpoint's optimizer state does not fit the model ({e}).") from None
        self.iter_num = int(ckpt.get("iter_num", 0))
        best = ckpt.get("best_val_loss")
        self.best_val_loss = float(best) if best is not None else math.inf  # nanoGPT saves a tensor
        if self.best_val_loss >= 1e9:  # nanoGPT's "no eval yet" value
            self.best_val_loss = math.inf
        self.evals_without_improvement = int(ckpt.get("evals_without_improvement", 0))
        saved_rng = ckpt.get("rng") or {}
        if dist.master and "numpy" in saved_rng:
            rng.bit_generator.state = saved_rng["numpy"]
            torch.set_rng_state(saved_rng["torch"])
            if self.device_type == "cuda" and saved_rng.get("cuda") is not None:
                torch.cuda.set_rng_state(saved_rng["cuda"], self.device)
        else:  # other ranks, or no saved state: fresh but reproducible streams
            rng = np.random.default_rng([cfg.seed, dist.rank, self.iter_num])
            torch.manual_seed(cfg.seed + dist.rank + self.iter_num)
        if ckpt.get("scaler") and self.scaler.is_enabled():
            self.scaler.load_state_dict(ckpt["scaler"])
        return rng

    def _split_text(self) -> dict[str, tuple[int, int]]:
        """(tokens, bytes of text) of each split, for bits per byte; {} when the dataset cannot say. On chat
        data the loss is on the replies: their tokens and bytes."""
        if self.plan.chat:
            chat = read_dataset_meta(self.plan.dataset_dir)["chat"]
            tokens, nbytes = chat.get("reply_tokens") or {}, chat.get("reply_bytes") or {}
            return {split: (int(tokens.get(split, 0)), int(nbytes.get(split, 0))) for split in ("train", "val")}
        try:
            return dataset_split_sizes(self.plan.dataset_dir)  # counted once for older datasets
        except GPTStudioError as e:
            self.emit(Message(f"No bits per byte for this run: {e}", "warning"))
            return {}

    def bpb(self, split: str, loss: float) -> float | None:
        """A loss on `split` in bits per byte of its text."""
        tokens, nbytes = self.split_text.get(split, (0, 0))
        return bits_per_byte(loss if math.isfinite(loss) else None, tokens, nbytes)

    def _tokenizer(self):
        from gptstudio.core.tokenizer import tokenizer_from_meta

        if not self.cfg.eval_sample_tokens or not self.dist.master:
            return None
        try:
            return tokenizer_from_meta(self.plan.tokenizer)
        except TokenizerError as e:
            self.emit(Message(f"No samples at evals: {e}", "warning"))
            return None

    def _open_files(self) -> None:
        """Run folder, config.json, metrics.jsonl, status.json, loggers (rank 0)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.stop_file.unlink(missing_ok=True)  # a stale request must not stop the new session
        save_config(self.cfg, self.run_dir / CONFIG_FILE)
        self.metrics = MetricsLog(self.run_dir)
        self.loggers = _external_loggers(self.cfg, self.run_dir)
        self._write_status("running")

    # --- events and status ---

    def emit(self, event: Event) -> None:
        if not self.dist.master:
            return
        if self.metrics is not None:
            self.metrics.write(event.to_dict())
        for logger in self.loggers:
            logger(event)
        if self.report is not None:
            self.report(event)

    def _write_status(self, status: str, reason: str = "") -> None:
        self._status_time = time.monotonic()
        write_status(
            self.run_dir,
            status=status,
            iter=self.iter_num,
            max_iters=self.cfg.max_iters,
            best_val_loss=self.best_val_loss,
            best_val_bpb=self.bpb("val", self.best_val_loss),
            dataset=self.cfg.dataset,
            tokenizer=self.plan.tokenizer.get("tokenizer"),
            chat=is_chat_meta(self.plan.tokenizer),
            device=self.device,
            dtype=self.dtype,
            reason=reason,
        )

    # --- the loop ---

    def run(self) -> Finished:
        try:
            self._setup()
            if self.dist.master and not self.cfg.eval_only:
                self._open_files()
            self.emit(
                RunStarted(
                    self.cfg.run_name,
                    self.cfg.to_dict(),
                    self.model.get_num_params(),
                    self.device,
                    self.dtype,
                    self.start_iter,
                    self.cfg.max_iters,
                    self.tokens_per_iter,
                    float(self.flops_per_iter),
                    self.dist.world_size,
                )
            )
            self.tokenizer = self._tokenizer()
            self.split_text = self._split_text() if self.dist.master else {}
            outcome = self._loop()
        except Exception as e:
            failure = _failure(e)
            if failure is None or (self.metrics is None and isinstance(e, GPTStudioError)):
                # a bug, or a user problem found before anything was written: let it surface
                if self.metrics is not None:
                    self._finish(Outcome("failed", f"Unexpected error: {type(e).__name__}: {e}", save=False))
                raise
            outcome = failure
        return self._finish(outcome)

    def _loop(self) -> Outcome:
        cfg, dist = self.cfg, self.dist
        self.pending = GO  # early stop / divergence noticed on rank 0, for the next vote
        # a resumed run was evaluated at its checkpoint already: do not repeat that eval
        resumed = self.plan.checkpoint is not None and not cfg.eval_only
        self.last_eval_iter = self.start_iter if resumed else -1
        self.saved_iter = self.start_iter
        self._mark_time()
        while True:
            it = self.iter_num
            code = dist.agree(max(self.pending, self._stop_requested()))
            if code:
                return self._outcome(code)
            if (it % cfg.eval_interval == 0 or it >= cfg.max_iters or cfg.eval_only) and it != self.last_eval_iter:
                self.last_eval_iter = it  # on every rank, so all take the same path (and the same votes)
                if dist.master:
                    self._evaluate()
                code = dist.agree(self.pending)
                if code:
                    return self._outcome(code)
            if cfg.eval_only:
                return Outcome("completed", "Evaluated once (eval_only=True); nothing was trained.", save=False)
            if it >= cfg.max_iters:
                return Outcome("completed", f"Reached max_iters ({it} iterations).")
            loss = self._step(it)
            self.iter_num = it + 1
            self.iters_since_log += 1
            if it % cfg.log_interval == 0 and dist.master:
                self._log_step(it, loss)

    def _stop_requested(self) -> int:
        # only rank 0 looks at the STOP file: it removes a stale one at start, and other nodes may not
        # see the run folder at all; its vote reaches every rank
        stop_file = self.dist.master and self.stop_file.exists()
        return STOP if self.cancel.is_set() or stop_file else GO

    def _step(self, it: int):
        """One optimizer step over grad_accum micro-batches; returns the mean loss (a tensor, no sync)."""
        lr = get_lr(it, self.cfg)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        model, last = self.forward_model, self.grad_accum - 1
        total = torch.zeros((), device=self.device)
        for micro in range(self.grad_accum):
            x, y = self.batches.next()
            # under DDP, average gradients across ranks only once, after the last micro-step
            no_sync = model.no_sync() if isinstance(model, DDP) and micro < last else contextlib.nullcontext()
            with no_sync:
                with self.autocast:
                    # only the loss: logits held through backward would cost batch x block x vocab more
                    # values at the memory peak (1.2 GB for GPT-2 at batch 12 in bf16)
                    loss = model(x, y)[1]
                self.scaler.scale(loss / self.grad_accum).backward()
            total += loss.detach()
        if self.cfg.grad_clip:
            self.scaler.unscale_(self.optimizer)
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.grad_clip)
        self.scaler.step(self.optimizer)
        self.scaler.update()
        self.optimizer.zero_grad(set_to_none=True)
        return total / self.grad_accum

    def _mark_time(self) -> None:
        self.t_mark, self.iters_since_log = time.perf_counter(), 0

    def _log_step(self, it: int, loss) -> None:
        lossf = loss.item()  # the only host sync of the loop: once per log_interval
        if not math.isfinite(lossf):
            self.pending = DIVERGED
            self.diverged_at = it
            return
        dt = (time.perf_counter() - self.t_mark) / max(1, self.iters_since_log)
        mfu = self.flops_per_iter / dt / self.peak if self.peak else -1.0
        self.emit(
            Step(
                it,
                lossf,
                get_lr(it, self.cfg),
                self.tokens_per_iter / dt,
                dt * 1000,
                mfu,
                time.perf_counter() - self.t_start,
            )
        )
        if time.monotonic() - self._status_time > STATUS_EVERY_S and self.metrics is not None:
            self._write_status("running")
        self._mark_time()

    # --- evaluation and checkpoints (rank 0) ---

    @torch.no_grad()
    def estimate_loss(self) -> dict[str, float]:
        """Mean loss over eval_iters batches of each split. The batches are the same at every eval
        (a fixed seed per split), so successive evals differ only by the model, not by luck."""
        cfg, out = self.cfg, {}
        model = self.forward_model.module if isinstance(self.forward_model, DDP) else self.forward_model
        model.eval()
        for i, split in enumerate(("train", "val")):
            batches = self._batches(split, np.random.default_rng([cfg.seed, 7919, i]))
            total = torch.zeros((), device=self.device)
            for _ in range(cfg.eval_iters):
                x, y = batches.next()
                with self.autocast:
                    _, loss = model(x, y)
                total += loss.float()
            out[split] = (total / cfg.eval_iters).item()
        model.train()
        return out

    def _evaluate(self) -> None:
        it = self.iter_num
        losses = self.estimate_loss()
        if not all(math.isfinite(v) for v in losses.values()):
            self.pending, self.diverged_at = DIVERGED, it
            return
        improved = losses["val"] < self.best_val_loss
        if improved:
            self.best_val_loss = losses["val"]
            self.evals_without_improvement = 0
        else:
            self.evals_without_improvement += 1
        sample = self.sample() if self.tokenizer is not None else None
        bpb = {split: self.bpb(split, loss) for split, loss in losses.items()}
        self.emit(Eval(it, losses["train"], losses["val"], self.best_val_loss, sample, bpb["train"], bpb["val"]))
        if self.metrics is not None and it > 0 and (improved or self.cfg.always_save_checkpoint):
            self.save(best=improved)
        patience = self.cfg.early_stop_patience
        if patience and self.evals_without_improvement >= patience:
            self.pending = EARLY_STOP
        if self.metrics is not None:
            self._write_status("running")
        self._mark_time()  # evals and saves are not training time

    def sample(self) -> str:
        """A short text from the model as it is now, by the sampler the Playground uses (nanoGPT's
        temperature 0.8 and top-k 200, from a new line or end-of-text), seeded by the iteration so that
        the same run writes the same samples. On chat data: the reply to the first validation
        conversation's message, as "message → reply"."""
        settings = SampleSettings(
            max_new_tokens=self.cfg.eval_sample_tokens, seed=self.cfg.seed + self.iter_num, slide="fast"
        )
        try:
            sampler = Sampler(self.model, self.tokenizer, device=self.device)
            template = sampler.chat_template
            if template is None:
                return sampler.generate("", settings)[0]
            ids, mask = conversation_tokens(self.plan.dataset_dir, "val", 0)
            prompt = ids[: int(np.argmax(mask))].tolist()  # up to the assistant's start token
            user = len(prompt) - prompt[::-1].index(template.start["user"])
            tok = sampler.tokenizer
            message = tok.decode([i for i in prompt[user:] if not tok.is_special(i)])
            reply = "".join(p.text for p in sampler.stream_ids(prompt, settings, stop_ids=template.stop_ids))
            return f"{message} → {reply.strip()}"
        finally:
            self.model.train()  # the sampler put it in eval mode

    def _params_finite(self) -> bool:
        return all(bool(torch.isfinite(p).all()) for p in self.model.parameters())

    def checkpoint(self) -> dict:
        rng = {"torch": torch.get_rng_state(), "numpy": self.batches.rng.bit_generator.state}
        if self.device_type == "cuda":
            rng["cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "model_args": self.model_args,
            "iter_num": self.iter_num,
            "best_val_loss": self.best_val_loss,
            "config": self.cfg.to_dict(),
            "tokenizer": self.plan.tokenizer,
            "dataset": self.cfg.dataset,
            "rng": rng,
            "scaler": self.scaler.state_dict() if self.scaler.is_enabled() else None,
            "evals_without_improvement": self.evals_without_improvement,
        }

    def save(self, best: bool = False) -> None:
        """ckpt.pt (atomically), and best.pt as a copy of it when this is the best val loss so far."""
        latest = save_checkpoint(self.checkpoint(), self.run_dir / LATEST)
        self.saved_iter = self.iter_num
        val = self.best_val_loss if best else None
        self.emit(CheckpointSaved(self.iter_num, str(latest), False, val))
        if best:
            with atomic_path(self.run_dir / BEST) as tmp:
                shutil.copyfile(latest, tmp)
            self.emit(CheckpointSaved(self.iter_num, str(self.run_dir / BEST), True, val))

    # --- the end ---

    def _outcome(self, code: int) -> Outcome:
        if code == DIVERGED:
            it = getattr(self, "diverged_at", self.iter_num)
            return Outcome(
                "failed",
                f"The loss became NaN/inf at iteration {it}: training diverged. The last "
                "good checkpoint was kept; lower learning_rate, or use float32/bfloat16 instead "
                "of float16.",
                save=False,
            )
        if code == EARLY_STOP:
            return Outcome(
                "completed",
                f"Stopped early: the val loss did not improve for "
                f"{self.cfg.early_stop_patience} evals (best {self.best_val_loss:.4f}).",
            )
        self.stop_file.unlink(missing_ok=True)
        return Outcome("stopped", f"Stopped by request at iteration {self.iter_num}.")

    def _finish(self, outcome: Outcome) -> Finished:
        if self.dist.master and self.metrics is not None:
            try:
                if outcome.save and self.iter_num > self.saved_iter:
                    if self._params_finite():
                        self.save()
                    else:
                        outcome = Outcome(
                            "failed",
                            "The weights became NaN/inf: training diverged. The last good "
                            "checkpoint was kept; lower learning_rate.",
                            save=False,
                        )
            finally:
                self._write_status(outcome.status, outcome.reason)
        best = self.best_val_loss if math.isfinite(self.best_val_loss) else None
        finished = Finished(outcome.status, self.iter_num, outcome.reason, best, self.bpb("val", self.best_val_loss))
        self.emit(finished)
        if self.metrics is not None:
            self.metrics.close()
            self.metrics = None
        for logger in self.loggers:
            getattr(logger, "close", lambda: None)()
        return finished


def _failure(e: Exception) -> Outcome | None:
    """A readable Outcome for failures a user can act on; None for bugs."""
    if is_out_of_memory(e):
        return Outcome("failed", out_of_memory_message(then="the last checkpoint was kept."), save=False)
    if isinstance(e, GPTStudioError):
        return Outcome("failed", str(e), save=False)
    return None


# ----- optional experiment loggers (rank 0) -----


class _WandbLogger:
    def __init__(self, cfg: TrainConfig):
        import wandb

        self.wandb = wandb
        self.run = wandb.init(
            project=cfg.wandb_project, name=cfg.wandb_run_name or cfg.run_name, config=cfg.to_dict(), resume="allow"
        )

    def __call__(self, event: Event) -> None:
        if isinstance(event, Step):
            self.wandb.log(
                {"iter": event.iter, "train/loss_step": event.loss, "lr": event.lr, "mfu": event.mfu * 100},
                step=event.iter,
            )
        elif isinstance(event, Eval):
            logged = {"iter": event.iter, "train/loss": event.train_loss, "val/loss": event.val_loss}
            logged.update(
                {k: v for k, v in (("train/bpb", event.train_bpb), ("val/bpb", event.val_bpb)) if v is not None}
            )
            self.wandb.log(logged, step=event.iter)

    def close(self) -> None:
        self.run.finish()


class _TensorBoardLogger:
    def __init__(self, run_dir: Path):
        from torch.utils.tensorboard import SummaryWriter

        self.writer = SummaryWriter(str(run_dir / "tensorboard"))

    def __call__(self, event: Event) -> None:
        if isinstance(event, Step):
            self.writer.add_scalar("train/loss_step", event.loss, event.iter)
            self.writer.add_scalar("lr", event.lr, event.iter)
            self.writer.add_scalar("tokens_per_sec", event.tokens_per_sec, event.iter)
        elif isinstance(event, Eval):
            self.writer.add_scalar("train/loss", event.train_loss, event.iter)
            self.writer.add_scalar("val/loss", event.val_loss, event.iter)
            for tag, value in (("train/bpb", event.train_bpb), ("val/bpb", event.val_bpb)):
                if value is not None:
                    self.writer.add_scalar(tag, value, event.iter)

    def close(self) -> None:
        self.writer.close()


def _external_loggers(cfg: TrainConfig, run_dir: Path) -> list[_WandbLogger | _TensorBoardLogger]:
    loggers: list[_WandbLogger | _TensorBoardLogger] = []
    if cfg.wandb_log:
        loggers.append(_WandbLogger(cfg))
    if cfg.tensorboard_log:
        loggers.append(_TensorBoardLogger(run_dir))
    return loggers
