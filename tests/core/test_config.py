"""TrainConfig: validation messages, value coercion, JSON/TOML files, nanoGPT config/*.py import."""

import sys

import pytest
import torch

from gptstudio.core.config import (
    TrainConfig,
    coerce,
    known_settings,
    load_config,
    parse_nanogpt_config,
    read_config_file,
    save_config,
)
from gptstudio.core.errors import ConfigError, Problem

NANOGPT_SHAKESPEARE_CHAR = """# train a miniature character-level shakespeare model
# good for debugging and playing on macbooks and such

out_dir = 'out-shakespeare-char'
eval_interval = 250 # keep frequent because we'll overfit
eval_iters = 200
log_interval = 10 # don't print too too often

# we expect to overfit on this small dataset, so only save when val improves
always_save_checkpoint = False

wandb_log = False # override via command line if you like
wandb_project = 'shakespeare-char'
wandb_run_name = 'mini-gpt'

dataset = 'shakespeare_char'
gradient_accumulation_steps = 1
batch_size = 64
block_size = 256 # context of up to 256 previous characters

# baby GPT model :)
n_layer = 6
n_head = 6
n_embd = 384
dropout = 0.2

learning_rate = 1e-3 # with baby networks can afford to go a bit higher
max_iters = 5000
lr_decay_iters = 5000 # make equal to max_iters usually
min_lr = 1e-4 # learning_rate / 10 usually
beta2 = 0.99 # make a bit bigger because number of tokens per iter is small

warmup_iters = 100 # not super necessary potentially

# on macbook also add
# device = 'cpu'  # run on cpu only
# compile = False # do not torch compile the model
"""


def cpu_config(**kw) -> TrainConfig:
    return TrainConfig(**{"dataset": "d", "device": "cpu", "compile": False, **kw})


def test_defaults_are_valid_on_cpu():
    assert cpu_config().validate() == []


def messages(problems) -> list[str]:
    return [p.message for p in problems]


def test_every_problem_is_listed_at_once_with_the_fields_it_concerns():
    problems = cpu_config(n_embd=100, n_head=3, min_lr=0.1, learning_rate=0.01).validate()
    assert len(problems) == 2
    assert "n_embd (100) must be divisible by n_head (3)" in str(problems[0]) and "try n_head=" in str(problems[0])
    assert "min_lr (0.1) is larger than learning_rate (0.01)" in str(problems[1])
    assert [p.fields for p in problems] == [("n_embd", "n_head"), ("min_lr", "learning_rate")]


def test_problems_name_their_fields_whatever_the_wording():
    by_field = {f: p for p in cpu_config(dropout=1.5, device="gpu0").validate() for f in p.fields}
    assert set(by_field) == {"dropout"}  # ranges are checked first, the rest once the types are right
    assert {f for p in cpu_config(dtype="float16").validate() for f in p.fields} == {"dtype", "device"}
    assert [p.code for p in cpu_config(dataset="").validate()] == ["no_dataset"]
    assert Problem("x", ("a",)).to_dict() == {"message": "x", "fields": ["a"], "code": ""}


def test_ranges_are_checked_with_the_limit_named():
    problems = messages(cpu_config(n_layer=0, dropout=1.5, batch_size=0).validate())
    assert "n_layer is 0; it must be at least 1." in problems
    assert "dropout is 1.5; it must be at most 0.9." in problems
    assert "batch_size is 0; it must be at least 1." in problems


def test_block_size_must_fit_the_dataset_splits():
    info = {"train_tokens": 10_000, "val_tokens": 200}
    problems = cpu_config(block_size=256).validate(info)
    assert messages(problems) == [
        "block_size (256) must be smaller than the val split (200 tokens): lower block_size or add more text."
    ]
    assert cpu_config(block_size=128).validate(info) == []


def test_devices_and_dtypes_this_machine_lacks():
    if not torch.cuda.is_available():
        assert any("not available on this machine" in str(p) for p in cpu_config(device="cuda").validate())
    assert any("not a device name" in str(p) for p in cpu_config(device="gpu0").validate())
    assert any("dtype float16 is not supported" in str(p) for p in cpu_config(dtype="float16").validate())
    assert any("choose one of" in str(p) for p in cpu_config(dtype="fp8").validate())


def test_compile_is_refused_in_the_desktop_bundle(monkeypatch):
    """torch.compile needs a C compiler and Python's headers, which a frozen bundle does not carry."""
    from gptstudio.core import devices

    assert [p.code for p in cpu_config(compile=True).validate()] == []
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    problems = cpu_config(compile=True).validate()
    assert [(p.code, p.fields) for p in problems] == [("compile", ("compile", "device"))]
    assert "desktop bundle" in problems[0].message and "set compile=False" in problems[0].message
    assert devices.compile_default() is False
    assert cpu_config(compile=False).validate() == []


def test_missing_dataset_is_a_problem():
    assert any("No dataset chosen" in str(p) for p in cpu_config(dataset="").validate())


def test_combinations_nanogpt_accepts_are_accepted():
    # eval_interval past max_iters, warmup past the decay (nanoGPT runs these without complaint)
    cfg = cpu_config(max_iters=20, eval_interval=250, lr_decay_iters=20, warmup_iters=100)
    assert cfg.validate() == []


@pytest.mark.parametrize(
    "key,text,value",
    [
        ("compile", "False", False),
        ("compile", "true", True),
        ("bias", "1", True),
        ("max_iters", "2000", 2000),
        ("max_iters", "2e3", 2000),
        ("learning_rate", "6e-4", 6e-4),
        ("dataset", "shakespeare_char", "shakespeare_char"),
    ],
)
def test_values_from_the_command_line_are_coerced(key, text, value):
    assert coerce(key, text) == value


@pytest.mark.parametrize(
    "key,text,message",
    [
        ("max_iters", "many", "max_iters must be a whole number, not 'many'."),
        ("max_iters", "2.5", "max_iters must be a whole number, not '2.5'."),
        ("compile", "maybe", "compile must be True or False, not 'maybe'."),
        ("learning_rate", "nan", "learning_rate must be a finite number, not 'nan'."),
    ],
)
def test_bad_values_say_what_is_expected(key, text, message):
    with pytest.raises(ValueError) as e:
        coerce(key, text)
    assert str(e.value) == message


def test_unknown_keys_are_refused_with_a_suggestion():
    with pytest.raises(ConfigError) as e:
        TrainConfig().update({"n_layers": 4, "learning_rat": 1e-3})
    assert messages(e.value.problems) == [
        "Unknown setting 'n_layers'. Did you mean 'n_layer'?",
        "Unknown setting 'learning_rat'. Did you mean 'learning_rate'?",
    ]


def test_nanogpt_names_are_aliases():
    cfg = TrainConfig().update({"out_dir": "out-x", "lr": 3e-4})
    assert cfg.run_name == "out-x" and cfg.learning_rate == 3e-4


def test_known_settings_maps_nanogpt_names_and_names_the_rest():
    known, unknown = known_settings({"out_dir": "out-x", "n_layer": 2, "ddp": True, "seed_offset": 0, "n_layers": 4})
    assert known == {"run_name": "out-x", "n_layer": 2} and unknown == ["n_layers"]
    # every reader of settings filters the same way: nanoGPT's bookkeeping names are no problem anywhere
    assert TrainConfig().update({"master_process": True, "lr": 0.1}).learning_rate == 0.1
    with pytest.raises(ConfigError, match="Unknown setting 'n_layers'"):
        TrainConfig().update({"n_layers": 4, "ddp": False})


@pytest.mark.parametrize("suffix", [".json", ".toml"])
def test_config_files_round_trip(tmp_path, suffix):
    cfg = cpu_config(n_layer=3, learning_rate=6e-4, bias=True, run_name="x y", wandb_project='quo"te')
    path = tmp_path / f"c{suffix}"
    save_config(cfg, path)
    assert load_config(path) == cfg


def test_nanogpt_config_file_imports_without_running(tmp_path):
    path = tmp_path / "train_shakespeare_char.py"
    path.write_text(NANOGPT_SHAKESPEARE_CHAR)
    cfg = load_config(path)
    assert (cfg.n_layer, cfg.n_head, cfg.n_embd, cfg.block_size, cfg.batch_size) == (6, 6, 384, 256, 64)
    assert (cfg.dropout, cfg.learning_rate, cfg.min_lr, cfg.beta2) == (0.2, 1e-3, 1e-4, 0.99)
    assert cfg.run_name == "out-shakespeare-char" and cfg.dataset == "shakespeare_char"
    assert cfg.wandb_run_name == "mini-gpt" and cfg.max_iters == 5000


def test_nanogpt_config_arithmetic_and_names():
    got = parse_nanogpt_config(
        "batch_size = 12\ngradient_accumulation_steps = 5 * 8\nmax_iters = 600000\n"
        "lr_decay_iters = max_iters\nmin_lr = 6e-4 / 10\nweight_decay = 1e-1\n"
    )
    assert got == {
        "batch_size": 12,
        "gradient_accumulation_steps": 40,
        "max_iters": 600000,
        "lr_decay_iters": 600000,
        "min_lr": pytest.approx(6e-5),
        "weight_decay": 0.1,
    }


@pytest.mark.parametrize(
    "line",
    [
        "import os",
        "x = __import__('os').system('touch {marker}')",
        "open('{marker}', 'w')",
        "for i in range(3): pass",
        "n_layer = [1, 2]",
    ],
)
def test_nanogpt_config_with_code_is_refused_and_not_run(tmp_path, line):
    marker = tmp_path / "ran"
    path = tmp_path / "evil.py"
    path.write_text("n_layer = 4\n" + line.format(marker=marker) + "\n")
    with pytest.raises(ConfigError) as e:
        read_config_file(path)
    assert "line 2" in str(e.value) and "not run" in str(e.value)
    assert not marker.exists()


def test_unreadable_config_files(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        read_config_file(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{nope")
    with pytest.raises(ConfigError, match="not valid JSON"):
        read_config_file(bad)
    (tmp_path / "list.json").write_text("[1, 2]")
    with pytest.raises(ConfigError, match="table of settings"):
        read_config_file(tmp_path / "list.json")
