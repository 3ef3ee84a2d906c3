"""Fuzzing every importer and loader: each input either loads or raises the project's own clear error.

Never an unhandled exception, a hang, or code from the file being run.
"""

import io
import json
import os
import pickle
import random

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gptstudio.core.checkpoint import load_checkpoint, model_from_checkpoint, save_checkpoint
from gptstudio.core.config import TrainConfig, parse_nanogpt_config, read_config_file
from gptstudio.core.dataset import load_dataset_meta, prepare_dataset
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.pretrained import load_hf_gpt2
from gptstudio.core.safe_pickle import safe_loads
from gptstudio.core.textfiles import inspect_text_file, iter_text_chunks

FUZZ = settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))

BOMS = [b"", b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff"]
text_like_bytes = st.one_of(
    st.binary(max_size=300),
    st.tuples(
        st.sampled_from(BOMS),
        st.text(max_size=100),
        st.sampled_from(["utf-8", "utf-16-le", "utf-16-be"]),
        st.binary(max_size=4),
    ).map(lambda t: t[0] + t[1].encode(t[2], "surrogatepass") + t[3]),
)


@FUZZ
@given(data=text_like_bytes, chunk=st.integers(16, 64))
def test_text_decoding_loads_or_refuses(tmp_path_factory, data, chunk):
    path = tmp_path_factory.mktemp("t") / "in.txt"
    path.write_bytes(data)
    try:
        text = "".join(c.text for c in iter_text_chunks(path, chunk_bytes=chunk))
    except GPTStudioError:
        return
    assert isinstance(text, str)
    info = inspect_text_file(path)  # the drop-time check never crashes either
    assert isinstance(info.is_text, bool)


@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=text_like_bytes, tokenizer=st.sampled_from(["char", "gpt2"]))
def test_prepare_on_random_bytes_loads_or_refuses(tmp_path_factory, data, tokenizer):
    root = tmp_path_factory.mktemp("p")
    (root / "in.txt").write_bytes(data)
    try:
        meta = prepare_dataset([root / "in.txt"], "d", tokenizer, home=root / "home")
    except GPTStudioError:
        assert not (root / "home" / "datasets" / "d").exists()
        return
    assert meta["train_tokens"] > 0 and meta["val_tokens"] > 0


config_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
)
config_keys = st.one_of(
    st.sampled_from(
        [
            "n_layer",
            "n_head",
            "n_embd",
            "learning_rate",
            "dropout",
            "device",
            "dtype",
            "compile",
            "bias",
            "out_dir",
            "max_iters",
            "init_from",
        ]
    ),
    st.text(max_size=12),
)


@FUZZ
@given(d=st.dictionaries(config_keys, config_values, max_size=6))
def test_config_dicts_load_or_refuse(d):
    try:
        cfg = TrainConfig.from_dict(d)
    except GPTStudioError:
        return
    assert isinstance(cfg.validate(), list)


@FUZZ
@given(
    text=st.one_of(
        st.text(max_size=200),
        st.lists(st.tuples(st.from_regex(r"[a-z_]{1,10}", fullmatch=True), config_values), max_size=5).map(
            lambda kv: "\n".join(f"{k} = {v!r}" for k, v in kv)
        ),
    ),
    suffix=st.sampled_from([".py", ".json", ".toml"]),
)
def test_config_files_load_or_refuse(tmp_path_factory, text, suffix):
    path = tmp_path_factory.mktemp("c") / f"config{suffix}"
    path.write_text(text, encoding="utf-8", errors="surrogatepass") if False else path.write_bytes(
        text.encode("utf-8", "surrogatepass")
    )
    try:
        d = read_config_file(path)
        TrainConfig.from_dict(d)
    except GPTStudioError:
        pass


def test_nanogpt_config_with_code_never_runs(tmp_path):
    marker = tmp_path / "pwned"
    for code in (
        f"import os\nos.system('touch {marker}')",
        f"x = __import__('os').system('touch {marker}')",
        f"n_layer = (lambda: open({str(marker)!r}, 'w'))()",
    ):
        with pytest.raises(GPTStudioError):
            parse_nanogpt_config(code)
    assert not marker.exists()


meta_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(-5, 70000), st.text(max_size=3)),
    lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=5), c, max_size=4),
    max_leaves=12,
)


@FUZZ
@given(
    meta=st.one_of(
        meta_values,
        st.fixed_dictionaries(
            {
                "format": st.integers(-1, 3),
                "tokenizer": st.sampled_from(["char", "gpt2", "x"]),
                "vocab_size": st.integers(-1, 70000),
                "chars": st.lists(st.characters(), max_size=5),
                "dtype": st.sampled_from(["uint16", "uint32", "int8", 5]),
                "train_tokens": st.integers(-1, 50),
                "val_tokens": st.integers(-1, 50),
            }
        ),
    )
)
def test_meta_json_loads_or_refuses(tmp_path_factory, meta):
    folder = tmp_path_factory.mktemp("m")
    (folder / "meta.json").write_text(json.dumps(meta))
    for split in ("train", "val"):
        np.zeros(20, dtype=np.uint16).tofile(folder / f"{split}.bin")
    try:
        load_dataset_meta(folder)
    except GPTStudioError:
        pass


@FUZZ
@given(
    data=st.one_of(
        st.binary(max_size=200),
        meta_values.map(lambda v: pickle.dumps(v, protocol=2)),
        meta_values.map(lambda v: pickle.dumps(v)[: -random.Random(len(str(v))).randint(1, 3)]),
    )
)
def test_meta_pkl_loads_or_refuses(data):
    try:
        safe_loads(data)
    except GPTStudioError:
        pass


class _RunsCommand:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_malicious_meta_pkl_and_checkpoint_never_run(tmp_path):
    marker = tmp_path / "pwned"
    with pytest.raises(GPTStudioError):
        safe_loads(pickle.dumps({"vocab_size": 3, "itos": _RunsCommand(marker)}))
    torch.save({"model": {}, "model_args": {}, "evil": _RunsCommand(marker)}, tmp_path / "ckpt.pt")
    with pytest.raises(GPTStudioError, match="Refused"):
        load_checkpoint(tmp_path / "ckpt.pt")
    assert not marker.exists()


@pytest.fixture(scope="module")
def good_checkpoint_bytes(tmp_path_factory):
    args = dict(n_layer=1, n_head=2, n_embd=8, block_size=8, vocab_size=5, bias=False, dropout=0.0)
    path = tmp_path_factory.mktemp("ck") / "ckpt.pt"
    save_checkpoint(
        {
            "model": GPT(GPTConfig(**args)).state_dict(),
            "model_args": args,
            "iter_num": 1,
            "best_val_loss": 2.0,
            "config": {},
        },
        path,
    )
    return path.read_bytes()


@FUZZ
@given(cut=st.floats(0, 1), flips=st.lists(st.tuples(st.floats(0, 1), st.integers(0, 7)), max_size=4))
def test_truncated_or_bitflipped_checkpoints_load_or_refuse(tmp_path_factory, good_checkpoint_bytes, cut, flips):
    data = bytearray(
        good_checkpoint_bytes[: max(1, int(len(good_checkpoint_bytes) * cut))] if cut < 0.99 else good_checkpoint_bytes
    )
    for pos, bit in flips:
        data[int(pos * (len(data) - 1))] ^= 1 << bit
    path = tmp_path_factory.mktemp("cf") / "ckpt.pt"
    path.write_bytes(bytes(data))
    try:
        model_from_checkpoint(load_checkpoint(path))
    except GPTStudioError:
        pass


@FUZZ
@given(
    model_args=st.dictionaries(
        st.sampled_from(["n_layer", "n_head", "n_embd", "block_size", "vocab_size", "bias", "dropout", "junk"]),
        st.one_of(st.integers(-2, 40), st.booleans(), st.text(max_size=3)),
        max_size=7,
    ),
    drop_key=st.booleans(),
)
def test_checkpoints_with_wrong_keys_load_or_refuse(tmp_path_factory, good_checkpoint_bytes, model_args, drop_key):
    ckpt = torch.load(io.BytesIO(good_checkpoint_bytes), weights_only=True)
    ckpt["model_args"] = {**ckpt["model_args"], **model_args}
    if drop_key:
        ckpt["model"].pop(next(iter(ckpt["model"])))
    path = tmp_path_factory.mktemp("ck") / "ckpt.pt"
    torch.save(ckpt, path)
    try:
        model_from_checkpoint(load_checkpoint(path))
    except GPTStudioError:
        pass


@FUZZ
@given(
    cfg=st.one_of(
        meta_values,
        st.fixed_dictionaries(
            {
                "n_layer": st.integers(-1, 3),
                "n_head": st.integers(-1, 4),
                "n_embd": st.integers(-1, 16),
                "vocab_size": st.integers(-1, 20),
                "n_positions": st.integers(-1, 16),
                "activation_function": st.sampled_from(["gelu_new", "gelu", "relu", 3]),
            }
        ),
    ),
    weights=st.sampled_from(["none", "garbage_safetensors", "garbage_bin"]),
)
def test_hf_folders_load_or_refuse(tmp_path_factory, cfg, weights):
    folder = tmp_path_factory.mktemp("hf")
    (folder / "config.json").write_text(json.dumps(cfg))
    if weights == "garbage_safetensors":
        (folder / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}garbage")
    elif weights == "garbage_bin":
        (folder / "pytorch_model.bin").write_bytes(b"PK\x03\x04 not a zip")
    try:
        load_hf_gpt2(folder)
    except GPTStudioError:
        pass
