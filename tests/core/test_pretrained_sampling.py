"""A pretrained GPT-2 opens directly, without training first (`gptstudio sample --init_from=...`, as
nanoGPT's sample.py): a tiny random GPT-2 saved locally with transformers stands in for OpenAI's."""

import pytest
import torch

from gptstudio.cli import main
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.export import export_run
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.pretrained import PretrainedError
from gptstudio.core.sampler import Sampler, SampleSettings

transformers = pytest.importorskip("transformers")


@pytest.fixture
def hf_gpt2(tmp_path):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=50257, n_positions=64, n_embd=32, n_layer=2, n_head=2, resid_pdrop=0, embd_pdrop=0, attn_pdrop=0
    )
    model = transformers.GPT2LMHeadModel(cfg).eval()
    folder = tmp_path / "tiny-gpt2"
    model.save_pretrained(folder)
    return model, folder


def test_sampler_from_a_hugging_face_folder_matches_transformers(hf_gpt2, home):
    ref, folder = hf_gpt2
    sampler = Sampler.from_pretrained(str(folder), home=home, device="cpu")
    assert sampler.tokenizer.kind == "gpt2" and "pretrained" in sampler.summary()
    prompt = "Hello, my name is"
    ids = sampler.encode_prompt(prompt)
    with torch.no_grad():
        want = ref.generate(torch.tensor([ids]), max_new_tokens=20, do_sample=False, pad_token_id=50256)[0, len(ids) :]
    got = [p.token_id for p in sampler.stream(prompt, SampleSettings(max_new_tokens=20, temperature=0))]
    assert got == want.tolist()


def test_cli_sample_init_from(hf_gpt2, home, capsys):
    _ref, folder = hf_gpt2
    sampler = Sampler.from_pretrained(str(folder), home=home, device="cpu")
    want = sampler.generate("The", SampleSettings(max_new_tokens=15, temperature=0))[0]
    argv = ["sample", f"--init_from={folder}", "--prompt", "The", "--temperature", "0", "--max-new-tokens", "15"]
    assert main([*argv, "--quiet"]) == 0
    assert capsys.readouterr().out == "The" + want + "\n---------------\n"


def test_the_workspace_copy_is_found_by_name(hf_gpt2, home, capsys):
    _ref, folder = hf_gpt2
    (home / "pretrained").mkdir()
    folder.rename(home / "pretrained" / "gpt2")  # where a download, or the user, puts it
    assert main(["sample", "--init_from=gpt2", "--max-new-tokens", "3", "--quiet"]) == 0
    assert capsys.readouterr().out.endswith("---------------\n")


def test_a_char_model_exported_for_hugging_face_opens_with_its_characters(home, tmp_path):
    chars = list("\n abcdefgh")
    args = dict(n_layer=1, n_head=2, n_embd=16, block_size=16, vocab_size=len(chars), bias=False, dropout=0.0)
    torch.manual_seed(0)
    meta = {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}
    save_checkpoint(
        {"model": GPT(GPTConfig(**args)).state_dict(), "model_args": args, "config": {}, "tokenizer": meta},
        home / "runs" / "c" / "ckpt.pt",
    )
    export_run("c", "hf", tmp_path / "hf", home=home)
    settings = SampleSettings(max_new_tokens=12, temperature=0)
    exported = Sampler.from_pretrained(str(tmp_path / "hf"), home=home, device="cpu")
    assert exported.tokenizer.kind == "char"
    assert exported.generate("abc", settings) == Sampler.open("c", home=home).generate("abc", settings)


def test_one_model_must_be_named(home, capsys):
    assert main(["sample", "--max-new-tokens", "3"]) == 2
    assert "Name one model" in capsys.readouterr().err
    assert main(["sample", "somerun", "--init_from=gpt2"]) == 2  # two models
    assert "Name one model" in capsys.readouterr().err


def test_offline_without_weights_says_where_to_put_them(home, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(home / "no-cache"))
    monkeypatch.setenv("GPTSTUDIO_HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens: offline
    with pytest.raises(PretrainedError, match="pretrained"):
        Sampler.from_pretrained("gpt2", home=home)


def test_described_for_a_list_without_loading(hf_gpt2, home, monkeypatch):
    from gptstudio.core.catalog import describe_pretrained

    monkeypatch.setenv("HF_HUB_CACHE", str(home / "no-cache"))  # whatever this machine has cached
    _ref, folder = hf_gpt2
    info = describe_pretrained(str(folder), home)
    assert info.describe() == "tiny-gpt2 · pretrained · gpt2 · 2L·2H·32" and info.path == folder
    by_name = describe_pretrained("gpt2-medium", home)  # not here: offered by name, downloaded on use
    assert by_name.describe() == "gpt2-medium · pretrained · gpt2" and by_name.model_id == "gpt2-medium"
