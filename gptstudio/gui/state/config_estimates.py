"""The Config tab's numbers as data: parameters, memory, tokens, epochs, FLOPs and time, each with a tip.

`ConfigEstimates.of(cfg, dataset_meta, ...)` computes everything the estimates panel shows from the
settings, the dataset and what the machine says (free memory, a measured iteration time); the panel
only paints it. The machine's answers are arguments, so tests choose them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig, validate
from gptstudio.core.devices import device_info
from gptstudio.core.units import format_bytes, format_count, format_flops, format_time

# (key, title, parent key) in the order the panel lists them
ROWS = (
    ("memory", "Memory needed", None),
    ("weights", "Weights", "memory"),
    ("gradients", "Gradients", "memory"),
    ("optimizer", "AdamW state", "memory"),
    ("activations", "Activations", "memory"),
    ("fits", "Free memory", None),
    ("tokens", "Tokens per iteration", None),
    ("epochs", "Epochs", None),
    ("flops", "FLOPs per iteration", None),
    ("iter_time", "Time per iteration", None),
    ("run_time", "Whole run", None),
)
# a benchmark needs these to describe a buildable model on a device this machine has
MEASURE_FIELDS = {"n_layer", "n_head", "n_embd", "block_size", "batch_size", "device", "dtype"}
# what the speed rows say when there is no timing yet, by the measurement's state
TIMING_STATES = {
    "blocked": ("—", "Fix the problems with the model shape or device first."),
    "off": ("not measured", "Tick 'Measure speed on the device' to time it."),
    "measuring": ("measuring…", "Timing a few training steps in the background."),
}


@dataclass(frozen=True)
class Estimate:
    text: str
    tip: str = ""
    tone: str = ""  # "good", "bad", or "" for the theme's text colour


@dataclass(frozen=True)
class ConfigEstimates:
    vocab_size: int
    params_total: int
    params_non_embedding: int
    headline: str  # '10.65 M parameters'
    shape: str  # '6 layers × 384 wide, 6 heads, vocabulary 65'
    params_tip: str
    rows: dict[str, Estimate] = field(default_factory=dict)
    fits: bool = True  # the memory estimate fits the free memory (or it cannot be read)

    @classmethod
    def of(
        cls,
        cfg: TrainConfig,
        dataset_meta: dict | None,
        free_memory: int | None,
        device_label: str,
        timing: est.IterationTiming | None = None,
        timing_state: str = "off",
    ) -> ConfigEstimates:
        """timing_state: "ready" (with `timing`), "blocked", "off", "measuring", or "failed: <message>"."""
        vocab, vocab_note = vocab_size(dataset_meta)
        args = est.effective_model_args(cfg, vocab)
        total, non_emb = est.count_params(args), est.count_params(args, non_embedding=True)
        shape = f"{args['n_layer']} layers × {args['n_embd']} wide, {args['n_head']} heads, vocabulary {vocab:,}"
        if cfg.init_from in est.PRETRAINED_SHAPES:
            shape = f"{cfg.init_from}'s shape: {args['n_layer']} layers × {args['n_embd']}, vocabulary 50,257"
            vocab_note = ""
        rows, fits = memory_rows(cfg, vocab, free_memory, device_label)
        rows.update(work_rows(cfg, vocab, dataset_meta))
        rows.update(timing_rows(cfg, timing, timing_state))
        return cls(
            vocab_size=vocab,
            params_total=total,
            params_non_embedding=non_emb,
            headline=f"{format_count(non_emb)} parameters",
            shape=shape + (f" ({vocab_note})" if vocab_note else ""),
            params_tip=f"{non_emb:,} parameters without the position embeddings (the number nanoGPT prints); "
            f"{total:,} in all.",
            rows=rows,
            fits=fits,
        )

    def texts(self) -> dict[str, str]:
        return {key: row.text for key, row in self.rows.items()}


def vocab_size(dataset_meta: dict | None) -> tuple[int, str]:
    """The dataset's vocabulary, or GPT-2's (with a note saying so) until a dataset is chosen."""
    if dataset_meta and int(dataset_meta.get("vocab_size", 0)) > 0:
        return int(dataset_meta["vocab_size"]), ""
    return est.DEFAULT_VOCAB, "GPT-2's vocabulary until a dataset is chosen"


def can_measure(cfg: TrainConfig) -> bool:
    """A benchmark needs a buildable model on a device this machine has."""
    shape_ok = cfg.n_embd % cfg.n_head == 0 and not any(set(p.fields) & MEASURE_FIELDS for p in validate(cfg))
    return shape_ok and device_info(cfg.device) is not None


def format_epochs(e: float) -> str:
    return f"{e:.2f}" if e < 10 else f"{e:.1f}" if e < 100 else f"{e:,.0f}"


def memory_rows(cfg: TrainConfig, vocab: int, free: int | None, where: str) -> tuple[dict[str, Estimate], bool]:
    m = est.memory_estimate(cfg, vocab)
    batch = f"{cfg.batch_size} × {cfg.block_size} tokens"
    rows = {
        "memory": Estimate(
            f"≈ {format_bytes(m['total'])}",
            f"Peak for training at micro-batch {batch} in {m['dtype']}, without torch.compile (which "
            "usually needs less): the weights and AdamW's state, plus the activations or, once the backward "
            "pass has freed them, the gradients.",
        ),
        "weights": Estimate(format_bytes(m["weights"]), "float32 weights"),
        "gradients": Estimate(
            format_bytes(m["gradients"]), "float32 gradients: they take the activations' place during the backward pass"
        ),
        "optimizer": Estimate(format_bytes(m["optimizer"]), "AdamW's two float32 moments"),
        "activations": Estimate(
            format_bytes(m["activations"]),
            f"Kept for the backward pass at batch {batch}, with the loss's float32 logits and their gradients"
            + (f", and {m['dtype']} copies of the weights during the forward pass" if m["dtype"] != "float32" else ""),
        ),
    }
    if free is None:
        rows["fits"] = Estimate("unknown", f"Cannot read the free memory of {where}.")
    elif m["total"] <= free:
        rows["fits"] = Estimate(f"{format_bytes(free)} — fits", f"Free now on {where}.", "good")
    else:
        rows["fits"] = Estimate(
            f"{format_bytes(free)} — too little",
            f"Free now on {where}: lower batch_size or block_size (raise gradient_accumulation_steps to "
            "compensate), or make the model smaller.",
            "bad",
        )
    return rows, free is None or m["total"] <= free


def work_rows(cfg: TrainConfig, vocab: int, dataset_meta: dict | None) -> dict[str, Estimate]:
    tpi = est.tokens_per_iter(cfg)
    rows = {
        "tokens": Estimate(
            f"{tpi:,}",
            f"{cfg.batch_size} sequences × {cfg.block_size} tokens × {cfg.gradient_accumulation_steps} "
            "accumulation steps",
        ),
        "epochs": Estimate("—", "Choose a dataset to see how many passes over it this run makes."),
        "flops": Estimate(
            format_flops(est.flops_per_iter(cfg, vocab)),
            "Training FLOPs per optimizer step (6N + attention, as nanoGPT's MFU estimate)",
        ),
    }
    train_tokens = int((dataset_meta or {}).get("train_tokens", 0))
    if train_tokens > 0:
        rows["epochs"] = Estimate(
            format_epochs(est.epochs(cfg, train_tokens)),
            f"{cfg.max_iters:,} iterations × {tpi:,} tokens over {train_tokens:,} training tokens",
        )
    return rows


def timing_rows(cfg: TrainConfig, timing: est.IterationTiming | None, state: str) -> dict[str, Estimate]:
    if timing is not None:
        return {
            "iter_time": Estimate(format_time(timing.seconds_per_iter), timing.note),
            "run_time": Estimate(
                f"≈ {format_time(timing.run_seconds)}",
                f"{cfg.max_iters:,} iterations and {est.evaluations(cfg)} evaluations of "
                f"{format_time(timing.eval_seconds)}; {timing.note}",
            ),
        }
    if state.startswith("failed:"):
        text, tip, tone = "not measured", state.removeprefix("failed:").strip(), "bad"
    else:
        (text, tip), tone = TIMING_STATES.get(state, TIMING_STATES["off"]), ""
    return {key: Estimate(text, tip, tone) for key in ("iter_time", "run_time")}
