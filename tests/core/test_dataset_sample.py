"""The token sample of a dataset (core.dataset_sample): decoded tokens, or the reason it cannot be read."""

import threading

import pytest

from gptstudio.core import dataset as ds
from gptstudio.core.dataset_sample import SAMPLE_TOKENS, dataset_sample
from gptstudio.core.errors import Cancelled


def test_sample_of_a_char_dataset(home, tmp_path):
    text = ds.demo_text_path().read_text(encoding="utf-8")[:20_000]
    src = tmp_path / "a.txt"
    src.write_text(text, encoding="utf-8")
    ds.prepare_dataset([src], "a", home=home)
    sample = dataset_sample(home / "datasets" / "a", "a")
    assert not sample.error and sample.split == "val" and sample.meta["tokenizer"] == "char"
    assert len(sample.tokens) == SAMPLE_TOKENS
    assert "".join(t for _id, t in sample.tokens) == text[18_000 : 18_000 + SAMPLE_TOKENS]  # val is the end
    assert all(sample.meta["chars"][i] == t for i, t in sample.tokens)


def test_damaged_dataset_gives_the_reason(home):
    broken = home / "datasets" / "broken"
    broken.mkdir(parents=True)
    (broken / "meta.json").write_text("{not json")
    sample = dataset_sample(broken, "broken")
    assert sample.error and sample.tokens == [] and sample.name == "broken"


def test_cancelled_before_decoding(home, tmp_path):
    src = tmp_path / "a.txt"
    src.write_text(ds.demo_text_path().read_text(encoding="utf-8")[:5000], encoding="utf-8")
    ds.prepare_dataset([src], "a", home=home)
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        dataset_sample(home / "datasets" / "a", "a", cancel=cancel)
