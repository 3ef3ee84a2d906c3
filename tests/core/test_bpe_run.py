"""A run on a BPE dataset from end to end with the CLI: prepare, train, sample (from the checkpoint alone),
resume, export to Hugging Face (same ids, same greedy text in transformers), safetensors, catalog, import."""

from __future__ import annotations

import shutil

import pytest
import torch

from gptstudio.cli import main
from gptstudio.commands.sample import SEPARATOR
from gptstudio.core import dataset as ds
from gptstudio.core.catalog import describe_checkpoint
from gptstudio.core.checkpoint import load_checkpoint, save_checkpoint
from gptstudio.core.export import load_safetensors_export
from gptstudio.core.nanogpt import import_nanogpt_run
from gptstudio.core.runs import list_runs
from gptstudio.core.sampler import Sampler, SampleSettings
from gptstudio.core.tokenizer import tokenizer_from_meta

TRAIN = [
    "--device=cpu",
    "--compile=False",
    "--n_layer=2",
    "--n_head=2",
    "--n_embd=32",
    "--block_size=32",
    "--batch_size=8",
    "--dropout=0.0",
    "--learning_rate=3e-3",
    "--warmup_iters=2",
    "--eval_interval=10",
    "--eval_iters=2",
    "--eval_sample_tokens=8",
    "--log_interval=5",
]
PROMPT = "ROMEO:\nWhat"


def cli(capsys, *argv) -> str:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    assert rc == 0, err
    return out


def greedy(capsys, run: str, tokens: int = 24) -> str:
    """`gptstudio sample RUN --temperature 0`: the text after the prompt."""
    out = cli(
        capsys, "sample", run, "--prompt", PROMPT, "--temperature", "0", "--max-new-tokens", str(tokens), "--quiet"
    )
    assert out.startswith(PROMPT) and out.endswith("\n" + SEPARATOR + "\n")
    return out[len(PROMPT) : -len(SEPARATOR) - 2]


@pytest.fixture
def bpe_run(home, tmp_path, capsys):
    src = tmp_path / "shakespeare.txt"
    src.write_text(ds.demo_text_path().read_text(encoding="utf-8")[:150_000], encoding="utf-8")
    cli(capsys, "prepare", str(src), "--name", "sp", "--tokenizer", "bpe", "--vocab-size", "512")
    out = cli(capsys, "train", "--dataset", "sp", "--name", "r", "--max_iters=20", *TRAIN)
    assert "bpb train" in out
    return home


def test_bpe_run_trains_samples_resumes_and_exports(bpe_run, home, tmp_path, capsys):
    ckpt = load_checkpoint(home / "runs" / "r" / "ckpt.pt")
    tok_meta = ckpt["tokenizer"]
    assert tok_meta["tokenizer"] == "bpe" and tok_meta["vocab_size"] == 517
    assert tok_meta["tokenizer_json"] == (home / "datasets" / "sp" / "tokenizer.json").read_text(encoding="utf-8")
    assert sum(p.numel() for p in ckpt["model"].values() if p.dim() > 0) < 100_000  # a tiny model

    first = greedy(capsys, "r")
    assert first  # the tokens decode to text
    # what the Playground streams: each token with its own text, merged pieces of the trained vocabulary
    sampler = Sampler.open("r", home=home, device="cpu")
    pieces = list(sampler.stream(PROMPT, SampleSettings(max_new_tokens=24, temperature=0)))
    assert "".join(p.text for p in pieces) == first
    the = sampler.tokenizer.encode(" the")
    assert len(the) == 1 and sampler.token_label(the[0]) == " the"  # a token view shows the merged piece
    # the checkpoint alone: without its dataset, it still samples the same
    shutil.move(home / "datasets" / "sp", tmp_path / "sp-moved")
    assert greedy(capsys, "r") == first
    info = describe_checkpoint(home / "runs" / "r" / "ckpt.pt", "r", "latest")
    assert info.tokenizer == "bpe" and info.dataset == "sp"
    shutil.move(tmp_path / "sp-moved", home / "datasets" / "sp")

    # resume
    out = cli(capsys, "train", "--resume", "r", "--max_iters=30")
    assert "completed at iter 30" in out
    assert load_checkpoint(home / "runs" / "r" / "ckpt.pt")["iter_num"] == 30
    assert next(r for r in list_runs(home) if r["name"] == "r")["best_val_bpb"] > 0

    # Hugging Face export: the same ids, and the same greedy text
    transformers = pytest.importorskip("transformers")
    cli(capsys, "export", "r", "--format", "hf", "--out", str(tmp_path / "hf"))
    hf_tok = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    ours = tokenizer_from_meta(load_checkpoint(home / "runs" / "r" / "ckpt.pt")["tokenizer"])
    text = ds.demo_text_path().read_text(encoding="utf-8")[200_000:203_000] + " héllo 🙂 \t\r\n tabs"
    assert hf_tok(text)["input_ids"] == ours.encode(text)
    assert hf_tok.decode(ours.encode(text)) == text
    assert hf_tok.eos_token_id == ours.eot_token

    model = transformers.AutoModelForCausalLM.from_pretrained(tmp_path / "hf")
    prompt_ids = torch.tensor([ours.encode(PROMPT)])
    with torch.no_grad():
        out_ids = model.generate(
            prompt_ids,
            max_new_tokens=24,
            do_sample=False,
            eos_token_id=None,  # gptstudio sample does not stop at end of text either
            pad_token_id=ours.eot_token,
        )
    new = out_ids[0, prompt_ids.shape[1] :].tolist()
    assert len(new) == 24
    assert hf_tok.decode(new) == greedy(capsys, "r")


def test_bpe_run_safetensors_and_nanogpt_import(bpe_run, home, tmp_path, capsys):
    cli(capsys, "export", "r", "--format", "safetensors", "--out", str(tmp_path / "st"))
    _model, meta = load_safetensors_export(tmp_path / "st")
    assert tokenizer_from_meta(meta["tokenizer"]).vocab_size == 517

    # a nanoGPT-style checkpoint of the same model (no tokenizer inside) takes it from the dataset
    ckpt = load_checkpoint(home / "runs" / "r" / "ckpt.pt")
    nano = {k: ckpt[k] for k in ("model", "optimizer", "model_args", "iter_num", "best_val_loss", "config")}
    (tmp_path / "nano").mkdir()
    save_checkpoint(nano, tmp_path / "nano" / "ckpt.pt")
    import_nanogpt_run(tmp_path / "nano", "imported", home=home, dataset="sp")
    assert load_checkpoint(home / "runs" / "imported" / "ckpt.pt")["tokenizer"]["tokenizer"] == "bpe"
    assert greedy(capsys, "imported") == greedy(capsys, "r")
