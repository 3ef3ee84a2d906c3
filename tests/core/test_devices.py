"""Which dtypes each GPU offers and what `auto` picks, on a machine faked with a T4 and an A100."""

from types import SimpleNamespace

import pytest
import torch

from gptstudio.core import devices
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.sampler import Sampler
from gptstudio.core.tokenizer import CharTokenizer

GPUS = [
    SimpleNamespace(name="Tesla T4", total_memory=15 * 2**30, major=7, minor=5),
    SimpleNamespace(name="NVIDIA A100-SXM4-80GB", total_memory=80 * 2**30, major=8, minor=0),
]


@pytest.fixture
def t4_and_a100(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: len(GPUS))
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda i: GPUS[torch.device("cuda", i).index or 0])
    # what torch says on a T4: bf16 "supported" (emulated, slowly), and about the current GPU only
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: True)


def test_auto_is_bf16_only_where_the_gpu_computes_in_bf16(t4_and_a100):
    t4, a100 = (devices.device_info(f"cuda:{i}") for i in range(2))
    assert t4.dtypes == ("float16", "float32") and t4.label == "CUDA: Tesla T4 (15 GiB)"
    assert a100.dtypes == ("bfloat16", "float16", "float32")
    assert devices.resolve_dtype("auto", "cuda:0") == "float16"
    assert devices.resolve_dtype("auto", "cuda") == "float16"  # cuda means cuda:0
    assert devices.resolve_dtype("auto", "cuda:1") == "bfloat16"
    assert devices.resolve_dtype("float32", "cuda:1") == "float32"


def test_sampler_on_a_gpu_autocasts_to_what_training_picks(t4_and_a100):
    tokenizer = CharTokenizer(list("abc\n"))
    model = GPT(GPTConfig(block_size=8, vocab_size=4, n_layer=1, n_head=1, n_embd=8))
    # the model stays on the CPU: only the sampler's choice of dtype for each (faked) GPU is looked at
    assert Sampler(model, tokenizer, device="cuda:0")._amp_dtype is torch.float16
    assert Sampler(model, tokenizer, device="cuda:1")._amp_dtype is torch.bfloat16
    assert Sampler(model, tokenizer, device="cpu")._amp_dtype is None


def test_release_cached_memory_empties_the_gpu_cache_only(monkeypatch):
    emptied = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "empty_cache", lambda: emptied.append(True))
    devices.release_cached_memory("cpu")
    assert not emptied
    devices.release_cached_memory("cuda:1")
    assert emptied == [True]
