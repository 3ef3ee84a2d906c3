"""What a training config costs before it runs: parameters, memory, FLOPs, tokens, epochs, time.

Everything here is a formula except `measure_iteration_time`, a few-second micro-benchmark on the real
device (cached per model shape). The Config tab shows these numbers live; the CLI may print them.
"""

from __future__ import annotations

import math
import threading
import time
from contextlib import nullcontext
from dataclasses import dataclass

from gptstudio.core.config import PRETRAINED
from gptstudio.core.devices import free_memory_bytes, release_cached_memory, resolve_device, resolve_dtype
from gptstudio.core.errors import Cancelled, ConfigError
from gptstudio.core.failures import is_out_of_memory, out_of_memory_message
from gptstudio.core.schedule import get_lr
from gptstudio.core.units import format_bytes

# (n_layer, n_head, n_embd) of OpenAI's GPT-2 checkpoints; they all have biases, 1024 positions and
# a 50257-token vocabulary. A run that starts from one of them takes its shape, not the form's.
PRETRAINED_SHAPES = {
    "gpt2": (12, 12, 768),
    "gpt2-medium": (24, 16, 1024),
    "gpt2-large": (36, 20, 1280),
    "gpt2-xl": (48, 25, 1600),
}
GPT2_VOCAB = 50257
GPT2_CONTEXT = 1024
# nanoGPT's vocabulary when a dataset has no meta (GPT-2's, padded to a multiple of 64)
DEFAULT_VOCAB = 50304

DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


# ----- shape and size -----


def effective_model_args(cfg, vocab_size: int) -> dict:
    """The model a run with these settings builds: the form's shape, or a pretrained GPT-2's."""
    args = cfg.model_args(vocab_size)
    if cfg.init_from in PRETRAINED:
        n_layer, n_head, n_embd = PRETRAINED_SHAPES[cfg.init_from]
        # nanoGPT crops the 1024 positions down to block_size when it is smaller
        args.update(
            n_layer=n_layer,
            n_head=n_head,
            n_embd=n_embd,
            bias=True,
            vocab_size=GPT2_VOCAB,
            block_size=min(cfg.block_size, GPT2_CONTEXT),
        )
    return args


def count_params(model_args: dict, non_embedding: bool = False) -> int:
    """Parameters of GPT(GPTConfig(**model_args)), by formula (no model is built).

    non_embedding=True leaves out the position embeddings, as nanoGPT's printed count does (the token
    embedding is shared with the output layer, so it stays).
    """
    L, C, V, T = model_args["n_layer"], model_args["n_embd"], model_args["vocab_size"], model_args["block_size"]
    bias = bool(model_args.get("bias", True))
    # per block: c_attn C x 3C, attn c_proj C x C, mlp c_fc C x 4C, mlp c_proj 4C x C, 2 LayerNorm weights
    per_block = 12 * C * C + 2 * C
    if bias:
        per_block += 3 * C + C + 4 * C + C + 2 * C  # the same layers' biases
    final_ln = 2 * C if bias else C
    n = V * C + L * per_block + final_ln
    return n if non_embedding else n + T * C


def flops_per_token(model_args: dict) -> int:
    """Training FLOPs per token, forward + backward (PaLM appendix B, as nanoGPT's estimate_mfu)."""
    n = count_params(model_args, non_embedding=True)
    L, H, T = model_args["n_layer"], model_args["n_head"], model_args["block_size"]
    return 6 * n + 12 * L * H * (model_args["n_embd"] // H) * T


def tokens_per_iter(cfg) -> int:
    """Tokens one optimizer step consumes (on one device)."""
    return cfg.gradient_accumulation_steps * cfg.batch_size * cfg.block_size


def flops_per_iter(cfg, vocab_size: int) -> int:
    return flops_per_token(effective_model_args(cfg, vocab_size)) * tokens_per_iter(cfg)


def epochs(cfg, train_tokens: int) -> float:
    """How many passes over the training split max_iters steps make."""
    if train_tokens <= 0:
        return math.inf
    return cfg.max_iters * tokens_per_iter(cfg) / train_tokens


def evaluations(cfg) -> int:
    """Loss evaluations in a run: at step 0, then every eval_interval steps up to max_iters."""
    return cfg.max_iters // cfg.eval_interval + 1


# ----- memory -----
#
# The peak of eager training (without torch.compile), checked against torch.cuda.max_memory_allocated
# by benchmarks/gpu_check.py on a GPU, and against the CPU's tensor memory by its smoke test. Weights and
# AdamW's two moments (float32) are there throughout; on top of them one optimizer step has three moments,
# and the largest is the peak:
#   end of the forward pass     the activations saved for backward, autocast's 16-bit copies of the
#                               weights, and the logits on their way into the loss
#   start of the backward pass  the saved activations and the loss's float32 gradients of the
#                               log-probabilities and of the logits (autocast's copies are gone, and
#                               zero_grad(set_to_none=True) left no gradients)
#   optimizer step              the gradients, the activations gone


def activation_bytes(model_args: dict, batch_size: int, act_bytes: int, device_type: str = "cuda") -> int:
    """Bytes the forward pass of one micro-batch saves for the backward pass.

    Per token, with C = n_embd, V the vocabulary and a = act_bytes (the compute dtype: 2 under autocast):
    each block keeps the float32 residual stream entering its two LayerNorms (8C: the residual stream
    stays float32 under autocast) and, in the compute dtype, the two LayerNorm outputs (2aC), q/k/v (3aC),
    the attention output (aC: the fused kernels lay it out so that its transpose is already contiguous)
    and the GELU input and output (8aC). The head
    keeps the final LayerNorm's input and output (4C + aC) and the loss's float32 log-probabilities (4V).
    Dropout keeps a mask per dropout: one byte per value on CUDA; elsewhere PyTorch's dropout keeps a
    noise tensor in the compute dtype, and attention with dropout runs the math kernel, which keeps
    three n_head x block_size tensors of attention weights per token (flash and memory-efficient
    attention keep none).
    """
    C, L, V = model_args["n_embd"], model_args["n_layer"], model_args["vocab_size"]
    H, T = model_args["n_head"], model_args["block_size"]
    a = act_bytes
    per_block = 8 * C + 14 * a * C
    embeddings = 0
    if model_args.get("dropout", 0.0) > 0:
        mask = 1 if device_type == "cuda" else a
        per_block += 2 * mask * C  # after the attention and after the MLP
        embeddings = mask * C
        if device_type != "cuda":
            per_block += 3 * a * H * T
    head = (4 + a) * C + 4 * V
    return batch_size * T * (L * per_block + embeddings + head)


def memory_estimate(cfg, vocab_size: int) -> dict:
    """Peak bytes of training at micro-batch batch_size, and its parts.

    `activations` is what the forward and backward passes add to the weights and AdamW's moments at
    their peak; the gradients take the activations' place during the backward pass, so `total` is the
    larger of weights + optimizer + activations and weights + gradients + optimizer.
    """
    args = effective_model_args(cfg, vocab_size)
    n = count_params(args)
    device = resolve_device(cfg.device)
    dtype = resolve_dtype(cfg.dtype, device)
    a = DTYPE_BYTES.get(dtype, 4)
    logits = cfg.batch_size * args["block_size"] * args["vocab_size"]
    saved = activation_bytes(args, cfg.batch_size, a, device.split(":")[0])
    mixed = a < 4
    # autocast's 16-bit weights, and the logits with (under autocast) their float32 copy for the loss
    forward_end = (a * n if mixed else 0) + logits * (a + (4 if mixed else 0))
    backward_start = logits * 8  # float32 gradients of the log-probabilities and of the logits
    activations = saved + max(forward_end, backward_start)
    weights, gradients, optimizer = 4 * n, 4 * n, 8 * n  # float32; AdamW: exp_avg and exp_avg_sq
    return dict(
        dtype=dtype,
        params=n,
        weights=weights,
        gradients=gradients,
        optimizer=optimizer,
        activations=activations,
        total=max(weights + optimizer + activations, weights + gradients + optimizer),
    )


# ----- learning-rate schedule -----


def lr_schedule(cfg, points: int = 200) -> tuple[list[int], list[float]]:
    """(steps, learning rates) sampled over the run, for plotting; the trainer's own schedule."""
    last = max(cfg.max_iters, 1)
    n = max(2, min(points, last + 1))
    iters = sorted({round(i * last / (n - 1)) for i in range(n)} | _corners(cfg, last))
    return iters, [get_lr(it, cfg) for it in iters]


def _corners(cfg, last: int) -> set[int]:
    """Steps where the schedule bends, so a coarse sampling still draws the peak and the floor."""
    if not cfg.decay_lr:
        return set()
    return {it for it in (cfg.warmup_iters, cfg.lr_decay_iters) if 0 <= it <= last}


# ----- measured speed -----


@dataclass(frozen=True)
class Measurement:
    """One micro-benchmark of a model shape at `batch` sequences (what the cache holds)."""

    train_step_s: float  # forward + backward of one micro-batch
    optimizer_s: float  # gradient clipping + AdamW step + zero_grad
    forward_s: float  # forward only, as in evaluation
    batch: int
    device: str
    dtype: str


@dataclass(frozen=True)
class IterationTiming:
    """Estimated time of these settings, scaled from a Measurement."""

    seconds_per_iter: float  # one optimizer step: gradient_accumulation_steps micro-batches + the step
    eval_seconds: float  # one evaluation: eval_iters batches on train and on val
    run_seconds: float  # max_iters steps plus every evaluation
    measured_batch: int
    batch_size: int
    device: str
    dtype: str
    note: str  # how it was measured, in words

    @property
    def seconds(self) -> float:
        return self.seconds_per_iter


# Tokens per measured micro-batch: enough to be representative, few enough to take seconds
MEASURE_TOKENS = {"cpu": 1024, "mps": 8192, "cuda": 32768}
MEASURE_BUDGET_S = 3.0
_cache: dict[tuple, Measurement] = {}
_cache_lock = threading.Lock()


def measured_batch(cfg, device: str) -> int:
    kind = resolve_device(device).split(":")[0]
    budget = MEASURE_TOKENS.get(kind, 1024)
    return max(1, min(cfg.batch_size, budget // cfg.block_size))


def timing_key(cfg, vocab_size: int, device: str | None = None) -> tuple:
    """What a measurement depends on: model shape, measured batch, device, dtype."""
    dev = resolve_device(device or cfg.device)
    args = effective_model_args(cfg, vocab_size)
    args["dropout"] = args["dropout"] > 0  # only whether dropout runs changes the speed
    return tuple(sorted(args.items())) + (measured_batch(cfg, dev), dev, resolve_dtype(cfg.dtype, dev))


def cached_iteration_time(cfg, vocab_size: int, device: str | None = None) -> IterationTiming | None:
    with _cache_lock:
        m = _cache.get(timing_key(cfg, vocab_size, device))
    return scale_timing(cfg, m) if m else None


def scale_timing(cfg, m: Measurement) -> IterationTiming:
    """Scale a measurement to the config's batch size, accumulation, evaluations and length."""
    scale = cfg.batch_size / m.batch
    per_iter = cfg.gradient_accumulation_steps * m.train_step_s * scale + m.optimizer_s
    eval_s = 2 * cfg.eval_iters * m.forward_s * scale
    run_s = cfg.max_iters * per_iter + evaluations(cfg) * eval_s
    note = f"measured on {m.device} ({m.dtype}) without torch.compile"
    if m.batch != cfg.batch_size:
        note += f", at batch {m.batch} and scaled linearly to {cfg.batch_size}"
    return IterationTiming(per_iter, eval_s, run_s, m.batch, cfg.batch_size, m.device, m.dtype, note)


def measure_iteration_time(
    cfg, vocab_size: int, device: str | None = None, iters: int = 3, *, report=None, cancel=None
) -> IterationTiming:
    """Time a few real training steps of this model shape on the device (cached per shape).

    The batch is capped (MEASURE_TOKENS) to keep this to a few seconds and the time scaled linearly;
    the returned note says so. Raises ConfigError when the model would not fit, Cancelled on cancel.
    """
    key = timing_key(cfg, vocab_size, device)
    with _cache_lock:
        m = _cache.get(key)
    if m is None:
        m = _measure(cfg, vocab_size, resolve_device(device or cfg.device), iters, report, cancel)
        with _cache_lock:
            _cache[key] = m
    return scale_timing(cfg, m)


def _measure(cfg, vocab_size, dev, iters, report, cancel) -> Measurement:
    import torch

    from gptstudio.core.model import GPT, GPTConfig

    batch = measured_batch(cfg, dev)
    _check_fits(cfg, vocab_size, dev, batch)
    dtype = resolve_dtype(cfg.dtype, dev)
    args = effective_model_args(cfg, vocab_size)
    kind = dev.split(":")[0]
    autocast = torch.autocast(kind, dtype=getattr(torch, dtype)) if dtype != "float32" else nullcontext()

    def check_cancel():
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    def sync():
        if kind == "cuda":
            torch.cuda.synchronize(dev)
        elif kind == "mps":
            torch.mps.synchronize()

    try:
        # leave the global RNG as it was (seeded runs), the GPU's too
        gpus = [torch.device(dev).index or 0] if kind == "cuda" else []
        with torch.random.fork_rng(devices=gpus):
            model = GPT(GPTConfig(**args)).to(dev)
            x = torch.randint(0, args["vocab_size"], (batch, args["block_size"]), device=dev)
            opt = model.configure_optimizers(cfg.weight_decay, cfg.learning_rate, (cfg.beta1, cfg.beta2), kind)
            train, step, fwd = [], [], []
            total = iters + 1
            for i in range(total):  # the first round warms up (allocations, kernel selection)
                check_cancel()
                sync()
                t0 = time.perf_counter()
                with autocast:
                    loss = model(x, x)[1]  # as the trainer: the logits are not kept through backward
                loss.backward()
                sync()
                t1 = time.perf_counter()
                if cfg.grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
                opt.step()
                opt.zero_grad(set_to_none=True)
                sync()
                t2 = time.perf_counter()
                with torch.no_grad(), autocast:
                    model(x, x)
                sync()
                t3 = time.perf_counter()
                if i > 0:
                    train.append(t1 - t0)
                    step.append(t2 - t1)
                    fwd.append(t3 - t2)
                if report:
                    report((i + 1, total))
                if i > 0 and sum(train) + sum(step) + sum(fwd) > MEASURE_BUDGET_S:
                    break
    except Exception as e:
        if not is_out_of_memory(e):
            raise
        raise ConfigError(out_of_memory_message(where=f"{dev} at batch {batch}")) from None
    finally:
        release_cached_memory(dev)  # for the training that follows
    return Measurement(_median(train), _median(step), _median(fwd), batch, dev, dtype)


def _median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2]


def _check_fits(cfg, vocab_size, dev, batch) -> None:
    """Refuse to measure what would not fit: better a message than a machine swapping to death."""
    from dataclasses import replace

    need = memory_estimate(replace(cfg, batch_size=batch, device=dev), vocab_size)["total"]
    free = free_memory_bytes(dev)
    if free is not None and need > 0.6 * free:
        raise ConfigError(
            f"Not measured: this model needs about {format_bytes(need)} even at batch {batch}, "
            f"but only {format_bytes(free)} is free on {dev}; make the model smaller."
        )
