"""Size it for my data (core.sizing, `gptstudio suggest`): a tiny dataset gets a small model and a warning,
a large one a bigger model; every suggestion passes validation, fits the stated memory and the time;
the fit check warns of overfitting and underfitting."""

import math
import re
from dataclasses import replace

import pytest

from gptstudio.cli import main
from gptstudio.commands.train import parse_key_values
from gptstudio.core import estimates as est
from gptstudio.core import sizing
from gptstudio.core.config import TrainConfig, validate
from gptstudio.core.errors import ConfigError

GIB = 1 << 30
SHAKESPEARE = dict(train_tokens=1_003_854, val_tokens=111_540, vocab_size=65)
TINY = dict(train_tokens=4_000, val_tokens=450, vocab_size=58)
LARGE = dict(train_tokens=250_000_000, val_tokens=25_000_000, vocab_size=50257)  # ~1 GB of text, GPT-2 BPE


def measured_at(flops_per_second: float, calls: list | None = None):
    """A stand-in for the device benchmark: every model runs at this many FLOP/s."""

    def measure(cfg, vocab):
        if calls is not None:
            calls.append((cfg.n_layer, cfg.n_head, cfg.n_embd))
        per_iter = est.flops_per_iter(cfg, vocab) / flops_per_second
        forward = 2 * cfg.eval_iters * per_iter / (3 * cfg.gradient_accumulation_steps)
        return est.IterationTiming(per_iter, forward, 0.0, cfg.batch_size, cfg.batch_size, "cpu", "float32", "test")

    return measure


def suggest(meta, minutes, speed, free=16 * GIB, **base):
    return sizing.suggest_config(
        meta, minutes, TrainConfig(device="cpu", **base), measure=measured_at(speed), free_memory=free
    )


def trained(s: sizing.Suggestion, meta: dict) -> TrainConfig:
    return s.apply(TrainConfig(dataset="d", device="cpu"))


def test_tiny_dataset_gets_a_small_model_and_warnings():
    s = suggest(TINY, minutes=30, speed=3e10)
    assert s.settings["n_embd"] == sizing.SHAPES[0][2] and s.params < 20_000
    assert [w.code for w in s.warnings] == ["data", "overfit"]
    assert "add more text" in s.warnings[0].message and "more text, not more time" in s.explanation
    assert s.epochs <= sizing.MAX_EPOCHS and s.settings["dropout"] == 0.2 and s.settings["early_stop_patience"] == 3
    assert s.seconds < 30 * 60  # the data, not the time, ends this run


def test_large_dataset_gets_a_bigger_model_that_uses_the_time():
    small = suggest(SHAKESPEARE, minutes=60, speed=1e14)
    large = suggest(LARGE, minutes=60, speed=1e14, free=80 * GIB)
    assert large.params > 4 * small.params > 0
    assert large.epochs < 4 and large.settings["dropout"] <= 0.1 and not large.warnings
    assert 0.8 * 60 * 60 < large.seconds <= 60 * 60  # it fills the hour, evaluations included
    assert 5 < large.tokens / large.params < 80  # near Chinchilla's 20 tokens per parameter
    assert "60 minutes" in large.explanation and "Hoffmann" in large.explanation


def test_shakespeare_on_a_fast_gpu_gets_nanogpts_baby_gpt():
    s = suggest(SHAKESPEARE, minutes=60, speed=1e14)
    assert (s.settings["n_layer"], s.settings["n_head"], s.settings["n_embd"], s.settings["block_size"]) == (
        6,
        6,
        384,
        256,
    )
    assert math.isclose(s.epochs, sizing.MAX_EPOCHS, rel_tol=0.05) and s.seconds < 10 * 60  # the data is the limit


@pytest.mark.parametrize("meta", [TINY, SHAKESPEARE, LARGE])
@pytest.mark.parametrize("minutes,speed,free", [(2, 1e10, 4 * GIB), (30, 3e10, 16 * GIB), (120, 1e14, 2 * GIB)])
def test_every_suggestion_is_valid_fits_memory_and_time(meta, minutes, speed, free):
    s = suggest(meta, minutes, speed, free=free)
    cfg = trained(s, meta)
    assert validate(cfg, meta) == []
    assert est.memory_estimate(cfg, meta["vocab_size"])["total"] <= sizing.MEMORY_SHARE * free
    if not any(w.code == "underfit" for w in s.warnings):
        assert s.seconds <= minutes * 60
    assert set(s.settings) == set(sizing.SUGGESTED)
    assert 1 <= len(re.findall(r"(?<!\bal)\.(?=\s+[A-Z]|$)", s.explanation)) <= 2  # a sentence or two


def test_more_time_never_means_a_smaller_model():
    sizes = [suggest(LARGE, m, 3e12, free=80 * GIB).params for m in (1, 5, 30, 120, 600)]
    assert sizes == sorted(sizes) and sizes[-1] > sizes[0]


def test_memory_limits_the_model_and_says_so():
    roomy = suggest(LARGE, 600, 1e14, free=80 * GIB)
    tight = suggest(LARGE, 600, 1e14, free=1 * GIB)
    assert tight.params < roomy.params
    assert est.memory_estimate(trained(tight, LARGE), LARGE["vocab_size"])["total"] <= 0.8 * GIB
    assert "memory" in tight.explanation


def test_the_pick_is_measured_and_measured_again_when_the_speed_changes_it():
    calls = []
    sizing.suggest_config(SHAKESPEARE, 30, TrainConfig(device="cpu"), measure=measured_at(3e9, calls), free_memory=None)
    assert 1 <= len(calls) <= sizing.ROUNDS + 1 and len(set(calls)) == len(calls)


def test_flags_give_train_the_same_settings():
    s = suggest(SHAKESPEARE, 10, 3e10)
    settings, problems = parse_key_values(s.flags().split())
    assert not problems
    assert TrainConfig(device="cpu").update(settings) == s.apply(TrainConfig(device="cpu"))


def test_bad_minutes_and_empty_datasets_are_refused():
    with pytest.raises(ConfigError, match="in minutes"):
        suggest(SHAKESPEARE, 0, 3e10)
    with pytest.raises(Exception, match="no tokens"):
        suggest({**SHAKESPEARE, "train_tokens": 0}, 10, 3e10)


def test_measured_for_real_on_this_cpu(one_torch_thread):
    s = sizing.suggest_config(TINY, 0.5, TrainConfig(device="cpu", compile=False))  # the real benchmark
    assert validate(trained(s, TINY), TINY) == [] and s.params > 0 and s.seconds > 0


# ----- the fit check of any settings


def test_fit_check_warns_of_overfitting_with_the_fixes_missing():
    cfg = TrainConfig(dataset="d", n_layer=6, n_head=6, n_embd=384, block_size=256, max_iters=5000, dropout=0.0)
    (warning,) = sizing.fit_warnings(cfg, SHAKESPEARE)  # nanoGPT's baby GPT without its dropout: 82 passes
    assert warning.code == "overfit" and "82 passes" in warning.message
    assert "Raise dropout to 0.2" in warning.message and "early_stop_patience=3" in warning.message
    assert "lower max_iters to about 2,450" in warning.message
    big = replace(cfg, n_layer=12, n_embd=768, n_head=12, max_iters=100, dropout=0.2, early_stop_patience=3)
    overfit, underfit = sizing.fit_warnings(big, SHAKESPEARE)  # and 100 iterations are far too few for it
    assert overfit.code == "overfit" and "84.95 M parameters for 1.00 M training tokens" in overfit.message
    assert "Make the model smaller (at most about 11.04 M)" in overfit.message and underfit.code == "underfit"


def test_fit_check_warns_of_underfitting():
    cfg = TrainConfig(dataset="d", n_layer=12, n_head=12, n_embd=768, block_size=1024, batch_size=8, max_iters=50)
    (warning,) = sizing.fit_warnings(cfg, LARGE)
    assert warning.code == "underfit" and "Raise max_iters towards" in warning.message


def test_fit_check_is_quiet_for_a_balanced_run_or_no_dataset():
    cfg = TrainConfig(dataset="d", n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=32, max_iters=2000)
    assert sizing.fit_warnings(cfg, SHAKESPEARE) == []  # 4 passes, 5 tokens per parameter
    assert sizing.fit_warnings(cfg, None) == []
    assert sizing.fit_warnings(replace(cfg, init_from="gpt2", max_iters=50_000), SHAKESPEARE) == []


# ----- the command


def test_suggest_command_prints_train_flags(home, monkeypatch, capsys):
    assert main(["prepare", "--demo"]) == 0
    capsys.readouterr()
    monkeypatch.setattr(
        est, "measure_iteration_time", lambda cfg, vocab, device=None, **kw: measured_at(3e10)(cfg, vocab)
    )
    assert main(["suggest", "shakespeare_char", "--minutes", "20", "--device", "cpu"]) == 0
    out, err = capsys.readouterr()
    assert (
        out.startswith("--dataset=shakespeare_char --device=cpu --init_from=scratch --n_layer=")
        and out.count("\n") == 1
    )
    assert "fills your 20 minutes" in err
    settings, problems = parse_key_values(out.split())
    assert not problems and validate(TrainConfig().update(settings), SHAKESPEARE) == []
    assert main(["suggest", "missing", "--minutes", "5"]) == 2
    assert "no dataset named 'missing'" in capsys.readouterr().err
