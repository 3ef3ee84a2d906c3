import math
import threading

import pytest
import torch

from gptstudio.core import estimates as E
from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import Cancelled, ConfigError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.schedule import get_lr
from gptstudio.core.units import format_bytes, format_count, format_flops, format_time

SHAPES = [
    dict(n_layer=1, n_head=1, n_embd=8, block_size=8, vocab_size=11, bias=False, dropout=0.0),
    dict(n_layer=2, n_head=2, n_embd=32, block_size=16, vocab_size=65, bias=True, dropout=0.1),
    dict(n_layer=3, n_head=4, n_embd=48, block_size=64, vocab_size=100, bias=False, dropout=0.0),
    dict(n_layer=4, n_head=3, n_embd=24, block_size=5, vocab_size=1000, bias=True, dropout=0.0),
]


@pytest.mark.parametrize("args", SHAPES)
def test_count_params_matches_the_real_model(args):
    model = GPT(GPTConfig(**args))
    assert E.count_params(args) == sum(p.numel() for p in model.parameters())
    assert E.count_params(args) == model.get_num_params(non_embedding=False)
    assert E.count_params(args, non_embedding=True) == model.get_num_params()
    assert E.flops_per_token(args) == model.flops_per_token()


def test_count_params_of_nanogpt_reference_models():
    # nanoGPT prints "number of parameters: 10.65M" for the Shakespeare char model and 123.65M for GPT-2
    baby = dict(n_layer=6, n_head=6, n_embd=384, block_size=256, vocab_size=65, bias=False)
    assert E.count_params(baby, non_embedding=True) == 10_646_784
    assert format_count(E.count_params(baby, non_embedding=True)) == "10.65 M"
    gpt2 = dict(n_layer=12, n_head=12, n_embd=768, block_size=1024, vocab_size=50257, bias=True)
    assert E.count_params(gpt2) == 124_439_808  # the HF GPT-2 checkpoint's tensor count
    assert format_count(E.count_params(gpt2, non_embedding=True)) == "123.65 M"


def test_pretrained_init_uses_gpt2_shape():
    cfg = TrainConfig(init_from="gpt2-medium", n_layer=2, n_head=2, n_embd=64, block_size=256, bias=False)
    args = E.effective_model_args(cfg, 65)
    assert (args["n_layer"], args["n_head"], args["n_embd"], args["vocab_size"]) == (24, 16, 1024, 50257)
    assert args["bias"] is True and args["block_size"] == 256
    assert E.effective_model_args(TrainConfig(init_from="scratch", n_layer=2), 65)["n_layer"] == 2


def test_tokens_flops_epochs():
    cfg = TrainConfig(
        batch_size=12, block_size=64, gradient_accumulation_steps=5, max_iters=100, n_layer=2, n_head=2, n_embd=32
    )
    assert E.tokens_per_iter(cfg) == 12 * 64 * 5 == cfg.tokens_per_iter()
    model = GPT(GPTConfig(**cfg.model_args(65)))
    assert E.flops_per_iter(cfg, 65) == model.flops_per_token() * 3840
    assert E.epochs(cfg, 38_400) == pytest.approx(10.0)
    assert E.epochs(cfg, 0) == math.inf
    assert E.evaluations(TrainConfig(max_iters=5000, eval_interval=250)) == 21


def test_memory_estimate_parts_and_dtype():
    cfg = TrainConfig(n_layer=2, n_head=2, n_embd=64, block_size=32, batch_size=4, dtype="float32", device="cpu")
    m = E.memory_estimate(cfg, 65)
    n = E.count_params(cfg.model_args(65))
    assert m["params"] == n and m["dtype"] == "float32"
    assert m["weights"] == 4 * n and m["gradients"] == 4 * n and m["optimizer"] == 8 * n
    # the gradients take the activations' place during the backward pass: the peak holds the larger
    assert m["total"] == max(m["weights"] + m["optimizer"] + m["activations"], 16 * n)
    assert m["total"] == 12 * n + m["activations"]  # activations outweigh gradients at this batch
    # activations grow linearly with the batch; 16-bit activations take about half the bytes
    bigger = E.memory_estimate(TrainConfig(**{**cfg.to_dict(), "batch_size": 8}), 65)
    assert bigger["activations"] == 2 * m["activations"]
    assert E.activation_bytes(cfg.model_args(65), 4, 2) < m["activations"]


@pytest.mark.parametrize(
    "shape",
    [
        dict(n_layer=2, n_head=2, n_embd=64, block_size=32, vocab_size=65, bias=False, dropout=0.0),
        dict(n_layer=2, n_head=2, n_embd=64, block_size=32, vocab_size=2000, bias=False, dropout=0.0),
        dict(n_layer=3, n_head=4, n_embd=64, block_size=64, vocab_size=65, bias=True, dropout=0.1),
    ],
)
def test_activation_bytes_are_what_autograd_saves(shape):
    """The formula, against every tensor autograd saves for the backward pass (float32, CPU; with dropout
    the CPU keeps noise tensors and the math kernel's attention weights). The whole peak is checked
    through the real trainer by benchmarks/gpu_check.py --smoke (tests/test_gpu_check.py)."""
    model = GPT(GPTConfig(**shape))
    x = torch.randint(0, 65, (4, shape["block_size"]))
    saved = {}  # the storages of the saved tensors (q, k and v are views of one), by address

    def pack(t):
        saved[t.untyped_storage().data_ptr()] = t.untyped_storage().nbytes()
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(x, x)
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    real = sum(nbytes for ptr, nbytes in saved.items() if ptr not in params)
    assert E.activation_bytes(shape, 4, 4, "cpu") == pytest.approx(real, rel=0.05)


def test_memory_peak_moments():
    """Mixed precision adds autocast's 16-bit weights at the end of the forward pass; a small batch
    peaks there or at the optimizer step (weights + gradients + AdamW), not with the activations."""
    cfg = TrainConfig(
        n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=12, dropout=0.0, device="cuda", dtype="bfloat16"
    )
    args, logits = cfg.model_args(50304), 12 * 1024 * 50304
    m = E.memory_estimate(cfg, 50304)
    # GPT-2 at batch 12: the loss's float32 gradients at the start of the backward pass are the peak
    assert m["activations"] == E.activation_bytes(args, 12, 2) + 8 * logits
    one = E.memory_estimate(TrainConfig(**{**cfg.to_dict(), "batch_size": 1, "block_size": 64}), 50304)
    small = TrainConfig(**{**cfg.to_dict(), "batch_size": 1, "block_size": 64}).model_args(50304)
    assert one["activations"] == E.activation_bytes(small, 1, 2) + 2 * one["params"] + 64 * 50304 * 6
    tiny_batch = E.memory_estimate(
        TrainConfig(n_layer=2, n_head=2, n_embd=64, block_size=8, batch_size=1, device="cpu", dtype="float32"), 65
    )
    assert tiny_batch["total"] == 16 * tiny_batch["params"]  # weights + gradients + AdamW


def test_lr_schedule_uses_the_trainer_schedule():
    cfg = TrainConfig(max_iters=1000, warmup_iters=100, lr_decay_iters=800, learning_rate=1e-3, min_lr=1e-4)
    iters, lrs = E.lr_schedule(cfg, points=50)
    assert iters[0] == 0 and iters[-1] == 1000 and 100 in iters and 800 in iters
    assert lrs == [get_lr(i, cfg) for i in iters]
    assert max(lrs) == pytest.approx(1e-3, rel=0.01) and lrs[-1] == 1e-4
    assert lrs[0] < lrs[iters.index(100)]  # warms up
    const = TrainConfig(max_iters=20, decay_lr=False, learning_rate=3e-5)
    assert set(E.lr_schedule(const)[1]) == {3e-5}


def test_get_lr_matches_nanogpt():
    cfg = TrainConfig(warmup_iters=10, lr_decay_iters=110, learning_rate=1.0, min_lr=0.0)
    assert get_lr(0, cfg) == pytest.approx(1 / 11)
    assert get_lr(10, cfg) == pytest.approx(1.0)
    assert get_lr(60, cfg) == pytest.approx(0.5)
    assert get_lr(110, cfg) == pytest.approx(0.0)
    assert get_lr(500, cfg) == 0.0
    # a zero-length decay must not divide by zero
    assert get_lr(5, TrainConfig(warmup_iters=5, lr_decay_iters=5, min_lr=1e-5)) == 1e-5


def tiny_cfg(**kw):
    base = dict(
        n_layer=1,
        n_head=2,
        n_embd=16,
        block_size=16,
        batch_size=4,
        device="cpu",
        dtype="float32",
        max_iters=100,
        eval_interval=50,
        eval_iters=5,
        gradient_accumulation_steps=2,
    )
    return TrainConfig(**{**base, **kw})


def test_measure_iteration_time_scales_and_caches(monkeypatch):
    E._cache.clear()
    cfg = tiny_cfg()
    t = E.measure_iteration_time(cfg, 20, iters=1)
    assert t.seconds_per_iter > 0 and t.seconds == t.seconds_per_iter
    assert t.run_seconds == pytest.approx(100 * t.seconds_per_iter + 3 * t.eval_seconds)
    assert t.device == "cpu" and t.measured_batch == 4 and "scaled" not in t.note
    # the same shape is answered from the cache: the model is not built again
    monkeypatch.setattr(E, "_measure", lambda *a, **k: pytest.fail("measured twice"))
    again = E.measure_iteration_time(tiny_cfg(max_iters=10), 20)
    assert again.seconds_per_iter == t.seconds_per_iter and again.run_seconds < t.run_seconds
    assert E.cached_iteration_time(cfg, 20) == t
    assert E.cached_iteration_time(tiny_cfg(n_layer=2), 20) is None


def test_measure_caps_the_batch_and_says_so(monkeypatch):
    E._cache.clear()
    monkeypatch.setitem(E.MEASURE_TOKENS, "cpu", 32)
    cfg = tiny_cfg(batch_size=8)
    t = E.measure_iteration_time(cfg, 20, iters=1)
    assert t.measured_batch == 2 and t.batch_size == 8
    assert "at batch 2 and scaled linearly to 8" in t.note
    m = E._cache[E.timing_key(cfg, 20)]
    assert t.seconds_per_iter == pytest.approx(2 * m.train_step_s * 4 + m.optimizer_s)


def test_measure_cancel_and_too_big(monkeypatch):
    E._cache.clear()
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        E.measure_iteration_time(tiny_cfg(), 20, cancel=cancel)
    monkeypatch.setattr(E, "free_memory_bytes", lambda dev: 1000)
    with pytest.raises(ConfigError, match="Not measured"):
        E.measure_iteration_time(tiny_cfg(n_layer=2), 20)


def test_measure_out_of_memory_is_one_sentence(monkeypatch):
    E._cache.clear()

    def oom(self, *args, **kwargs):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(GPT, "forward", oom)
    with pytest.raises(ConfigError, match=r"^Out of memory on cpu at batch 4: lower batch_size or block_size"):
        E.measure_iteration_time(tiny_cfg(), 20, iters=1)
    monkeypatch.setattr(GPT, "forward", lambda self, *a, **k: 1 / 0)
    with pytest.raises(ZeroDivisionError):  # a bug is not dressed up as out of memory
        E.measure_iteration_time(tiny_cfg(n_layer=3), 20, iters=1)


def test_formatting():
    assert format_bytes(3 * 2**30) == "3.0 GiB"
    assert format_bytes(512) == "512 B"
    assert format_flops(2.5e12) == "2.5 TFLOP"
    assert format_time(0.25) == "250 ms"
    assert format_time(90) == "2 min"
    assert format_time(3 * 3600 + 5 * 60) == "3 h 05 min"
    assert format_count(999) == "999"
