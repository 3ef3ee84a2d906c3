"""The Config tab's numbers as data (Qt-free): memory against free memory, work, speed states."""

import pytest

from gptstudio.core import estimates as est
from gptstudio.core.config import TrainConfig
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.gui.state.config_estimates import ConfigEstimates, can_measure, format_epochs

GiB = 1 << 30
META = {"vocab_size": 40, "train_tokens": 5000, "val_tokens": 600}


def small(**kw):
    base = dict(n_layer=2, n_head=2, n_embd=32, block_size=16, batch_size=10, gradient_accumulation_steps=2)
    return TrainConfig(**{**base, "max_iters": 50, "warmup_iters": 10, "lr_decay_iters": 50, **kw})


@pytest.mark.parametrize("shape", [(2, 2, 32, 16, False), (3, 4, 64, 64, True), (6, 6, 384, 256, False)])
def test_parameter_count_matches_the_real_model(shape):
    n_layer, n_head, n_embd, block, bias = shape
    cfg = TrainConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block, bias=bias)
    e = ConfigEstimates.of(cfg, META, free_memory=GiB, device_label="CPU")
    model = GPT(GPTConfig(n_layer=n_layer, n_head=n_head, n_embd=n_embd, block_size=block, bias=bias, vocab_size=40))
    assert e.params_total == sum(p.numel() for p in model.parameters())
    assert e.params_non_embedding == model.get_num_params()
    assert e.shape == f"{n_layer} layers × {n_embd} wide, {n_head} heads, vocabulary 40"


def test_work_rows_follow_the_settings():
    e = ConfigEstimates.of(small(), META, free_memory=64 * GiB, device_label="CPU")
    texts = e.texts()
    assert texts["tokens"] == "320" and texts["epochs"] == "3.20"  # 50 x 320 / 5000 train tokens
    assert texts["memory"].startswith("≈ ") and texts["fits"].endswith("— fits") and e.rows["fits"].tone == "good"
    no_dataset = ConfigEstimates.of(small(), None, free_memory=64 * GiB, device_label="CPU")
    assert no_dataset.texts()["epochs"] == "—" and no_dataset.vocab_size == est.DEFAULT_VOCAB
    assert "GPT-2's vocabulary until a dataset is chosen" in no_dataset.shape


def test_memory_too_little_or_unknown():
    e = ConfigEstimates.of(small(), META, free_memory=1000, device_label="a tiny GPU")
    assert e.texts()["fits"] == "1000 B — too little" and e.rows["fits"].tone == "bad" and not e.fits
    assert "lower batch_size" in e.rows["fits"].tip and "a tiny GPU" in e.rows["fits"].tip
    unknown = ConfigEstimates.of(small(), META, free_memory=None, device_label="mps")
    assert unknown.texts()["fits"] == "unknown" and unknown.fits


def test_pretrained_shape_wins():
    e = ConfigEstimates.of(TrainConfig(init_from="gpt2"), META, free_memory=None, device_label="CPU")
    assert e.shape == "gpt2's shape: 12 layers × 768, vocabulary 50,257"
    assert e.params_non_embedding == 123_653_376  # what nanoGPT prints for GPT-2 124M


def test_speed_rows_say_where_the_measurement_is():
    cfg = small()
    for state, text in (("off", "not measured"), ("measuring", "measuring…"), ("blocked", "—")):
        rows = ConfigEstimates.of(cfg, META, None, "CPU", None, state).rows
        assert rows["iter_time"].text == rows["run_time"].text == text
    failed = ConfigEstimates.of(cfg, META, None, "CPU", None, "failed: The model does not fit.").rows["iter_time"]
    assert (failed.text, failed.tip, failed.tone) == ("not measured", "The model does not fit.", "bad")
    timing = est.IterationTiming(0.25, 2.0, 20.0, 10, 10, "cpu", "float32", "measured on cpu (float32)")
    rows = ConfigEstimates.of(cfg, META, None, "CPU", timing, "ready").rows
    assert rows["iter_time"].text == "250 ms" and rows["run_time"].text == "≈ 20.0 s"
    assert "50 iterations and" in rows["run_time"].tip


def test_can_measure_needs_a_buildable_model_on_this_machine():
    assert can_measure(small(device="cpu"))
    assert not can_measure(small(n_embd=100, n_head=3))
    assert not can_measure(small(device="cuda:99"))
    assert format_epochs(3.2) == "3.20" and format_epochs(81.6) == "81.6" and format_epochs(1234.5) == "1,234"
