"""Size it for my data: the model, batch, context and length that suit a dataset, a device and the time
a person has, with the reasons in a sentence or two; and the fit check of any settings.

The rules, and where they come from:

1. Compute-optimal size (Hoffmann et al. 2022, "Training Compute-Optimal Large Language Models",
   the Chinchilla paper): for a compute budget of C FLOPs the loss is lowest for a model of about
   N = sqrt(C / 120) parameters trained on about 20 tokens per parameter (C = 6 N D, the
   forward-and-backward cost of Kaplan et al. 2020). C is the time given times the speed measured on
   the device (a few real training steps of the candidate model, `estimates.measure_iteration_time`,
   the Config tab's own benchmark), less a tenth for evaluations. N counts the parameters outside
   the embeddings, as Kaplan et al. 2020 do: at small sizes a GPT-2 vocabulary's embeddings would
   otherwise dwarf the model (Pearce & Song 2024, "Reconciling Kaplan and Chinchilla").
2. Repeated data (Muennighoff et al. 2023, "Scaling Data-Constrained Language Models"): up to about
   4 passes over the same data are worth almost as much as new data; past ~16 the value of each
   pass decays quickly, and by ~40 it is gone. So a run makes at most MAX_EPOCHS passes (more time
   than that is not used: more text is what would help), and runs of more than 4 passes get
   dropout and early stopping.
3. Small data: a model much larger than its data memorises it (Kaplan et al. 2020: the overfitting
   penalty grows with N^0.74 / D). The largest model suggested for U training tokens is
   PARAMS_PER_TOKEN x U, the ratio of nanoGPT's shakespeare_char recipe (10.7 M parameters on 1.0 M
   characters with dropout 0.2), a known-good small-data model whose validation loss bottoms out
   before its 5,000 iterations end.
4. Memory: the shape, micro-batch and context must fit in MEMORY_SHARE of the device's free memory
   by `estimates.memory_estimate` (weights, gradients, AdamW state, activations); a larger effective
   batch comes from gradient accumulation instead.
5. The rest follows nanoGPT's recipes: context 64 tokens for the smallest models up to 1,024 for
   GPT-2-sized ones; about TARGET_ITERS optimizer steps; learning rate 1e-3 for small models down
   to 6e-4 for GPT-2 small and 2e-4 for GPT-2 XL; cosine decay to a tenth; beta2 0.99 while an
   iteration holds few tokens; dropout 0 for a single pass, 0.1 up to 4 passes, 0.2 beyond.

`fit_warnings(cfg, meta)` checks any settings against rules 1-3: many passes on little data, or a
model much larger than its data, will overfit; far fewer than 20 tokens per parameter underfits.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.core.devices import device_info, free_memory_bytes, resolve_device
from gptstudio.core.errors import Cancelled, ConfigError, DatasetError, Problem
from gptstudio.core.units import format_count, format_time

CHINCHILLA_TOKENS_PER_PARAM = 20  # Hoffmann et al. 2022
FREE_EPOCHS = 4  # Muennighoff et al. 2023: repeats this often are nearly as good as new data
MANY_EPOCHS = 16  # ... past this, passes add little and the model overfits
MAX_EPOCHS = 40  # ... and by this many they are worth nothing
PARAMS_PER_TOKEN = 11  # nanoGPT shakespeare_char: 10.7 M parameters on 1.0 M training tokens
UNDERFIT_TOKENS_PER_PARAM = 2  # a tenth of Chinchilla's 20: the model ends far from what it could learn
LITTLE_DATA_TOKENS = 100_000  # about 100 KB of text: any model mostly learns to repeat it
MEMORY_SHARE = 0.8  # of the free memory a suggestion may plan to use
EVAL_SHARE = 0.1  # of the time left for evaluations
TARGET_ITERS = 2000
MIN_ITERS = 100
MAX_TOKENS_PER_ITER = 1 << 19  # GPT-2's ~0.5 M tokens per step
MAX_MICRO_BATCH = {"cpu": 32, "mps": 64, "cuda": 128}
# a first guess at the speed (FLOP/s) before anything is measured; the measurement replaces it
SPEED_GUESS = {"cpu": 2e10, "mps": 1e12, "cuda": 2e13}
ROUNDS = 3  # measure, re-pick, measure again: at most this many measurements

# (n_layer, n_head, n_embd): nanoGPT's CPU model, baby GPT, GPT-2 small ... XL, and steps between
SHAPES = (
    (1, 2, 32),
    (2, 2, 48),
    (2, 2, 64),
    (3, 3, 96),
    (4, 4, 128),
    (4, 6, 192),
    (6, 8, 256),
    (6, 6, 384),
    (8, 8, 512),
    (10, 10, 640),
    (12, 12, 768),
    (24, 16, 1024),
    (36, 20, 1280),
    (48, 25, 1600),
)
# the settings a suggestion sets (the others are left as they were)
SUGGESTED = (
    "init_from",
    "n_layer",
    "n_head",
    "n_embd",
    "block_size",
    "bias",
    "dropout",
    "batch_size",
    "gradient_accumulation_steps",
    "learning_rate",
    "min_lr",
    "beta2",
    "max_iters",
    "lr_decay_iters",
    "warmup_iters",
    "decay_lr",
    "eval_interval",
    "eval_iters",
    "early_stop_patience",
)


@dataclass(frozen=True)
class Suggestion:
    """Settings for the dataset, the device and the time, why, and what to watch out for."""

    settings: dict  # TrainConfig fields (SUGGESTED) -> value
    explanation: str  # one or two sentences
    warnings: list[Problem] = field(default_factory=list)  # codes "overfit", "underfit", "data"
    params: int = 0  # non-embedding parameters
    tokens: int = 0  # tokens the run trains on
    epochs: float = 0.0
    seconds: float = 0.0  # the run's expected time, evaluations included
    minutes: float = 0.0  # the time given

    def apply(self, cfg: TrainConfig) -> TrainConfig:
        """A copy of `cfg` with the suggested settings."""
        return replace(cfg, **self.settings)

    def flags(self) -> str:
        """The settings as `gptstudio train` flags: '--n_layer=4 --n_head=4 ...'."""
        return " ".join(f"--{key}={_flag_value(value)}" for key, value in self.settings.items())


def _flag_value(value) -> str:
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def body_params(shape: tuple[int, int, int], vocab_size: int, block_size: int) -> int:
    """Parameters outside the embeddings (Kaplan et al.'s N) of a shape."""
    n_layer, n_head, n_embd = shape
    args = dict(n_layer=n_layer, n_head=n_head, n_embd=n_embd, vocab_size=vocab_size, block_size=block_size)
    return est.count_params({**args, "bias": False}, non_embedding=True) - vocab_size * n_embd


def context_for(n_embd: int) -> int:
    """nanoGPT's contexts: 64 tokens for its CPU model (128 wide), 256 for the baby GPT (384), 1,024 for GPT-2."""
    return 64 if n_embd <= 128 else 128 if n_embd <= 256 else 256 if n_embd <= 512 else 512 if n_embd <= 640 else 1024


def learning_rate_for(n_embd: int) -> float:
    """nanoGPT's peak rates: 1e-3 up to the baby GPT, 6e-4 for GPT-2 small, down to 2e-4 for GPT-2 XL."""
    for width, lr in ((384, 1e-3), (512, 8e-4), (640, 7e-4), (768, 6e-4), (1024, 3e-4), (1280, 2.5e-4)):
        if n_embd <= width:
            return lr
    return 2e-4


def dropout_for(epochs: float) -> float:
    return 0.0 if epochs <= 1 else 0.1 if epochs <= FREE_EPOCHS else 0.2


def _kind(device: str) -> str:
    return resolve_device(device).split(":")[0]


@dataclass
class _Plan:
    """One candidate: a shape with its batch and context, before its length is known."""

    shape: tuple[int, int, int]
    cfg: TrainConfig
    params: int


def _plan(shape, base: TrainConfig, meta: dict, tokens: float, free: int | None) -> _Plan | None:
    """The shape with a context, micro-batch and accumulation that fit the data and the memory
    (None: even one sequence does not fit)."""
    vocab = int(meta["vocab_size"])
    smallest_split = min(int(meta["train_tokens"]), int(meta["val_tokens"]))
    block = max(8, min(context_for(shape[2]), smallest_split // 4 if smallest_split >= 32 else 8))
    kind = _kind(base.device)
    per_iter = min(MAX_TOKENS_PER_ITER, max(4 * block, tokens / TARGET_ITERS))
    wanted = max(1, round(per_iter / block))
    micro = min(wanted, MAX_MICRO_BATCH.get(kind, 32))
    n_layer, n_head, n_embd = shape
    cfg = replace(base, n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block, bias=False)
    while True:
        cfg = replace(cfg, batch_size=micro, gradient_accumulation_steps=max(1, round(wanted / micro)))
        if free is None or est.memory_estimate(cfg, vocab)["total"] <= MEMORY_SHARE * free:
            return _Plan(shape, cfg, body_params(shape, vocab, block))
        if micro == 1:
            return None
        micro = max(1, micro // 2)


def _pick(base, meta, compute: float, free) -> tuple[_Plan, str]:
    """The shape nearest the compute-optimal 20 tokens per parameter (rule 1) among those the data
    (rule 3) and the memory (rule 4) allow, and what set the limit: "time", "data" or "memory"."""
    vocab = int(meta["vocab_size"])
    max_params = PARAMS_PER_TOKEN * int(meta["train_tokens"])
    allowed: list[tuple[_Plan, float]] = []  # (plan, tokens per parameter the compute gives it)
    capped_by = "time"
    for shape in SHAPES:
        n = body_params(shape, vocab, context_for(shape[2]))
        if n > max_params and allowed:  # the smallest shape is taken whatever the data
            capped_by = "data"
            break
        plan = _plan(shape, base, meta, CHINCHILLA_TOKENS_PER_PARAM * n, free)
        if plan is None:
            capped_by = "memory"
            break
        tokens = compute / est.flops_per_token(plan.cfg.model_args(vocab))
        allowed.append((plan, tokens / n))
    if not allowed:
        raise ConfigError("Not even the smallest model fits in this device's free memory: free some memory first.")
    plan, ratio = min(allowed, key=lambda pr: abs(math.log(pr[1] / CHINCHILLA_TOKENS_PER_PARAM)))
    largest = plan is allowed[-1][0] and ratio > CHINCHILLA_TOKENS_PER_PARAM
    return plan, capped_by if largest else "time"


def suggest_config(
    meta: dict,
    minutes: float,
    base: TrainConfig | None = None,
    *,
    measure: Callable[[TrainConfig, int], est.IterationTiming] | None = None,
    free_memory: int | None = -1,
    report: Callable[[str], None] | None = None,
    cancel=None,
) -> Suggestion:
    """Settings for training from scratch on a dataset (its meta.json) in `minutes` on `base.device`.

    `measure(cfg, vocab_size)` times a few training steps (default: the Config tab's benchmark on the
    device); `free_memory` is the memory to plan for (default -1: ask the device; None: no limit).
    `report` hears what is being measured. Raises ConfigError when nothing fits, Cancelled on cancel.
    """
    base = replace(base or TrainConfig(), init_from="scratch")
    if not minutes or minutes <= 0 or not math.isfinite(minutes):
        raise ConfigError(Problem("Give the time you have in minutes (more than 0).", ("minutes",), "minutes"))
    for key in ("train_tokens", "val_tokens", "vocab_size"):
        if int(meta.get(key, 0)) <= 0:
            raise DatasetError("The dataset has no tokens to size a model for: prepare it again.")
    device = resolve_device(base.device)
    if free_memory == -1:
        free_memory = free_memory_bytes(device)
    measure = measure or (lambda cfg, vocab: est.measure_iteration_time(cfg, vocab, device, cancel=cancel))
    vocab = int(meta["vocab_size"])
    budget = 60.0 * minutes * (1 - EVAL_SHARE)
    speed = SPEED_GUESS.get(_kind(device), SPEED_GUESS["cpu"])
    timings: dict[tuple, est.IterationTiming] = {}
    plan, limit = _pick(base, meta, speed * budget, free_memory)
    for _ in range(ROUNDS):  # measure the pick; if the measured speed picks another shape, measure that
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if plan.shape not in timings:
            if report:
                report(f"Timing a {plan.shape[0]}-layer, {plan.shape[2]}-wide model on {device}…")
            timings[plan.shape] = measure(plan.cfg, vocab)
        speed = est.flops_per_iter(plan.cfg, vocab) / timings[plan.shape].seconds_per_iter
        again, limit = _pick(base, meta, speed * budget, free_memory)
        if again.shape == plan.shape or again.shape in timings:
            plan = again if again.shape in timings else plan
            break
        plan = again
    if plan.shape not in timings:
        timings[plan.shape] = measure(plan.cfg, vocab)
    return _finish(plan, limit, timings[plan.shape], meta, minutes, budget)


def _finish(plan: _Plan, limit: str, timing: est.IterationTiming, meta: dict, minutes: float, budget: float):
    """Length, schedule, evaluations and regularisation of the picked plan, and the words for it."""
    train_tokens = int(meta["train_tokens"])
    cfg = plan.cfg
    # the tokens this run can use: what the time allows, at most MAX_EPOCHS passes (rule 2)
    tokens_in_time = budget / timing.seconds_per_iter * est.tokens_per_iter(cfg)
    planned = min(tokens_in_time, MAX_EPOCHS * train_tokens)
    if planned < tokens_in_time and limit != "memory":
        limit = "data"
    # about TARGET_ITERS steps for them: fewer accumulated micro-batches per step when the run is short
    sequence_tokens = cfg.batch_size * cfg.block_size
    accumulation = max(1, min(cfg.gradient_accumulation_steps, round(planned / TARGET_ITERS / sequence_tokens)))
    seconds_per_iter = timing.seconds_per_iter * accumulation / cfg.gradient_accumulation_steps
    cfg = replace(cfg, gradient_accumulation_steps=accumulation)
    per_iter = est.tokens_per_iter(cfg)
    max_iters = max(1, int(planned / per_iter))
    max_iters = max(max_iters, min(MIN_ITERS, int(MAX_EPOCHS * train_tokens / per_iter) or 1))
    tokens = max_iters * per_iter
    epochs = tokens / train_tokens
    eval_interval = max(10, max_iters // 10)
    evals = max_iters // eval_interval + 1
    forward_s = timing.eval_seconds / (2 * cfg.eval_iters)  # one batch, forward only
    eval_iters = int(min(200, max(10, EVAL_SHARE * 60 * minutes / max(1e-9, evals * 2 * forward_s))))
    lr = learning_rate_for(cfg.n_embd)
    settings: dict[str, Any] = dict(
        init_from="scratch",
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        n_embd=cfg.n_embd,
        block_size=cfg.block_size,
        bias=False,
        dropout=dropout_for(epochs),
        batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=lr,
        min_lr=lr / 10,
        beta2=0.99 if per_iter < 100_000 else 0.95,
        max_iters=max_iters,
        lr_decay_iters=max_iters,
        warmup_iters=max(10, min(2000, max_iters // 20)),
        decay_lr=True,
        eval_interval=eval_interval,
        eval_iters=eval_iters,
        early_stop_patience=3 if epochs > FREE_EPOCHS else 0,
    )
    seconds = max_iters * seconds_per_iter + evals * 2 * eval_iters * forward_s
    warnings = fit_warnings(replace(cfg, **settings), meta)
    if train_tokens < LITTLE_DATA_TOKENS:
        warnings.insert(
            0,
            Problem(
                f"Little text: {format_count(train_tokens)} training tokens. Whatever its size, a model trained on "
                "so little mostly learns to repeat it; add more text (a megabyte or more learns far better).",
                ("dataset",),
                "data",
            ),
        )
    if seconds > 60 * minutes:
        warnings.append(
            Problem(
                f"Even {max_iters:,} iterations of the smallest model take {format_time(seconds)}, more than your "
                f"{minutes:g} minutes: give more time, or expect a very rough model.",
                ("max_iters",),
                "underfit",
            )
        )
    return Suggestion(
        settings=settings,
        explanation=_explain(plan, limit, tokens, epochs, seconds, minutes, train_tokens, _device_label(timing.device)),
        warnings=warnings,
        params=plan.params,
        tokens=tokens,
        epochs=epochs,
        seconds=seconds,
        minutes=minutes,
    )


def _device_label(device: str) -> str:
    info = device_info(device)
    return info.label if info is not None else device


def _explain(plan, limit, tokens, epochs, seconds, minutes, train_tokens, device) -> str:
    layers, _heads, width = plan.shape
    model = f"A {layers}-layer, {width}-wide model ({format_count(plan.params)} parameters)"
    run = f"trained on {format_count(tokens)} tokens ({_ratio(epochs)} passes over your data)"
    per_param = tokens / max(1, plan.params)
    if limit == "data":
        return (
            f"{model} {run} takes about {format_time(seconds)} on {device}. Your {format_count(train_tokens)} "
            f"training tokens support a model of about this size (nanoGPT's small-data ratio) and more passes "
            "would only overfit (Muennighoff et al. 2023), so more text, not more time, would help."
        )
    if limit == "memory":
        return (
            f"{model} {run} fits your {minutes:g} minutes on {device}; a larger one would not fit in its free "
            "memory (a GPU with more memory, or fewer layers of a wider model, would let the model grow)."
        )
    return (
        f"{model} {run} fills your {minutes:g} minutes on {device}: about {per_param:.0f} tokens per parameter, "
        "where 20 is compute-optimal (Hoffmann et al. 2022). More time would allow a larger model."
    )


def fit_warnings(cfg: TrainConfig, meta: dict | None) -> list[Problem]:
    """Will these settings overfit or underfit this dataset? One Problem per concern (codes "overfit",
    "underfit"), each naming what to change; none for a pretrained start or without a dataset."""
    if not meta or cfg.init_from != "scratch" or int(meta.get("train_tokens", 0)) <= 0:
        return []
    vocab, train_tokens = int(meta["vocab_size"]), int(meta["train_tokens"])
    params = body_params((cfg.n_layer, cfg.n_head, cfg.n_embd), vocab, cfg.block_size)
    tokens = cfg.max_iters * est.tokens_per_iter(cfg)
    epochs = tokens / train_tokens
    found = []
    if epochs > MANY_EPOCHS or params > PARAMS_PER_TOKEN * train_tokens:
        why = (
            f"{epochs:.0f} passes over {format_count(train_tokens)} training tokens"
            if epochs > MANY_EPOCHS
            else f"{format_count(params)} parameters for {format_count(train_tokens)} training tokens"
        )
        fixes = []
        if cfg.dropout < 0.1:
            fixes.append("raise dropout to 0.2")
        if cfg.early_stop_patience == 0:
            fixes.append("turn on early stopping (early_stop_patience=3)")
        if params > PARAMS_PER_TOKEN * train_tokens:
            fixes.append(f"make the model smaller (at most about {format_count(PARAMS_PER_TOKEN * train_tokens)})")
        if epochs > MAX_EPOCHS:
            fixes.append(f"lower max_iters to about {int(MAX_EPOCHS * train_tokens / est.tokens_per_iter(cfg)):,}")
        fixes.append("add more text")
        found.append(
            Problem(
                f"Likely to overfit: {why} (the model memorises its data instead of learning it). "
                f"{_capital(', '.join(fixes[:-1]) + ' or ' + fixes[-1] if len(fixes) > 1 else fixes[0])}.",
                ("max_iters", "dropout", "early_stop_patience", "n_layer", "n_embd"),
                "overfit",
            )
        )
    if tokens < UNDERFIT_TOKENS_PER_PARAM * params:
        needed = CHINCHILLA_TOKENS_PER_PARAM * params / est.tokens_per_iter(cfg)
        found.append(
            Problem(
                f"Likely to underfit: {format_count(tokens)} tokens for {format_count(params)} parameters, "
                f"{_ratio(tokens / max(1, params))} per parameter where about 20 is compute-optimal (Hoffmann et al. "
                f"2022). Raise max_iters towards {needed:,.0f}, or make the model smaller.",
                ("max_iters", "n_layer", "n_embd"),
                "underfit",
            )
        )
    return found


def _ratio(x: float) -> str:
    return f"{x:.1f}" if x >= 1 else f"{x:.2g}"


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]
