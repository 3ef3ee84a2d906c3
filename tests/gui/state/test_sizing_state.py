"""The Config tab's suggestion state (Qt-free): current only for what it was made for; its words."""

from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import Problem
from gptstudio.core.sizing import Suggestion
from gptstudio.gui.state.sizing_state import SizingState, fit_summary, sizing_key, suggestion_summary

META = {"train_tokens": 1000, "vocab_size": 40}
SETTINGS = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=32, gradient_accumulation_steps=2)
SUGGESTION = Suggestion({**SETTINGS, "max_iters": 2441, "dropout": 0.2}, "Because.", seconds=750)


def test_a_suggestion_is_current_only_for_its_dataset_device_and_time():
    cfg = TrainConfig(dataset="d", device="cpu")
    state = SizingState()
    key = sizing_key(cfg, META, 30)
    assert state.current(key) is None
    state.take(SUGGESTION, key)
    assert state.current(sizing_key(TrainConfig(dataset="d", device="cpu", n_layer=9), META, 30)) is SUGGESTION
    for other in (
        sizing_key(TrainConfig(dataset="e", device="cpu"), META, 30),
        sizing_key(cfg, {**META, "train_tokens": 2000}, 30),
        sizing_key(TrainConfig(dataset="d", device="auto"), META, 30),
        sizing_key(cfg, META, 31),
    ):
        assert state.current(other) is None


def test_words():
    assert suggestion_summary(SUGGESTION) == (
        "4 layers × 128 wide, 4 heads · context 64 · batch 32 × 2 · 2,441 iterations · dropout 0.2 · about 12 min"
    )
    assert fit_summary([Problem("Likely to overfit."), Problem("And more.")]) == "Likely to overfit.\nAnd more."
    assert fit_summary([]) == ""
