"""Hugging Face interop: GPT-2 weights load with the same logits; exports load back in transformers."""

import http.server
import json
import threading
from functools import partial

import pytest
import torch

from gptstudio.core.checkpoint import load_checkpoint, save_checkpoint
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.export import export_run, load_safetensors_export
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.pretrained import PretrainedError, load_hf_gpt2, resolve_pretrained

transformers = pytest.importorskip("transformers")


def tiny_hf_model(tmp_path, activation="gelu_new"):
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(
        vocab_size=101,
        n_positions=32,
        n_embd=32,
        n_layer=2,
        n_head=4,
        activation_function=activation,
        resid_pdrop=0,
        embd_pdrop=0,
        attn_pdrop=0,
    )
    ref = transformers.GPT2LMHeadModel(cfg).eval()
    folder = tmp_path / "hf_tiny"
    ref.save_pretrained(folder)
    return ref, folder


def test_hf_gpt2_loads_with_same_logits(tmp_path):
    ref, folder = tiny_hf_model(tmp_path)
    ours = load_hf_gpt2(folder).eval()
    idx = torch.randint(0, 101, (2, 32))
    with torch.no_grad():
        want = ref(idx).logits
        got, _ = ours(idx, targets=torch.zeros_like(idx))  # targets -> logits at every position
    assert (got - want).abs().max().item() < 1e-4


def test_pytorch_model_bin_and_crop_and_dropout(tmp_path):
    ref, _folder = tiny_hf_model(tmp_path)
    ref.save_pretrained(tmp_path / "bin", safe_serialization=False)
    model = load_hf_gpt2(tmp_path / "bin", block_size=16, dropout=0.1)
    assert model.config.block_size == 16 and model.config.dropout == 0.1
    assert model.transformer.wpe.weight.shape[0] == 16


def test_missing_weights_folder_is_a_clear_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(PretrainedError, match="config.json"):
        resolve_pretrained(str(tmp_path / "empty"), home=tmp_path)


def test_offline_without_copy_says_where_to_put_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GPTSTUDIO_HF_ENDPOINT", "http://127.0.0.1:9")  # nothing listens on the discard port
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nocache"))
    with pytest.raises(PretrainedError) as e:
        resolve_pretrained("gpt2", home=tmp_path)
    assert str(tmp_path / "pretrained" / "gpt2") in str(e.value)
    assert not (tmp_path / "pretrained" / "gpt2").exists()


def test_download_from_loopback_hub_with_progress(tmp_path, monkeypatch):
    _ref, folder = tiny_hf_model(tmp_path)
    site = tmp_path / "site" / "openai-community" / "gpt2" / "resolve" / "main"
    site.mkdir(parents=True)
    for f in ("config.json", "model.safetensors"):
        (site / f).write_bytes((folder / f).read_bytes())
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path / "site"))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv("GPTSTUDIO_HF_ENDPOINT", f"http://127.0.0.1:{server.server_address[1]}")
        monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "nocache"))
        seen = []
        path = resolve_pretrained("gpt2", home=tmp_path / "home", report=lambda d, t: seen.append((d, t)))
    finally:
        server.shutdown()
    assert path == tmp_path / "home" / "pretrained" / "gpt2"
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert load_hf_gpt2(path).config.n_layer == 2
    # the second time it is found locally, no server needed
    assert resolve_pretrained("gpt2", home=tmp_path / "home") == path


def _save_run(home, name, tokenizer_meta, vocab_size, bias=False):
    torch.manual_seed(1)
    args = dict(n_layer=2, n_head=2, n_embd=16, block_size=16, vocab_size=vocab_size, bias=bias, dropout=0.0)
    model = GPT(GPTConfig(**args))
    run = home / "runs" / name
    save_checkpoint(
        {
            "model": model.state_dict(),
            "model_args": args,
            "iter_num": 7,
            "best_val_loss": 1.5,
            "config": {},
            "tokenizer": tokenizer_meta,
            "dataset": "d",
        },
        run / "ckpt.pt",
    )
    return model.eval()


@pytest.mark.parametrize("bias", [False, True])
def test_hf_export_round_trip_char(home, tmp_path, bias):
    chars = list("\n abcdefghij")
    ours = _save_run(
        home, "charrun", {"tokenizer": "char", "vocab_size": len(chars), "chars": chars}, len(chars), bias=bias
    )
    out = export_run("charrun", "hf", tmp_path / "export", home=home)
    assert json.loads((out / "char_vocab.json").read_text())["chars"] == chars
    hf = transformers.AutoModelForCausalLM.from_pretrained(out).eval()
    idx = torch.randint(0, len(chars), (1, 16))
    with torch.no_grad():
        got, _ = ours(idx, targets=torch.zeros_like(idx))
        assert (hf(idx).logits - got).abs().max().item() < 1e-4


def test_hf_export_gpt2_tokenizer_files(home, tmp_path):
    _save_run(home, "bperun", {"tokenizer": "gpt2", "vocab_size": 50257, "eot_token": 50256}, 50257)
    out = export_run("bperun", "hf", tmp_path / "export", home=home)
    tok = transformers.AutoTokenizer.from_pretrained(out)
    assert tok.encode("Hello world") == [15496, 995]
    assert json.loads((out / "generation_config.json").read_text())["eos_token_id"] == 50256


def test_safetensors_export_round_trip(home, tmp_path):
    chars = list("abc\n")
    ours = _save_run(home, "r", {"tokenizer": "char", "vocab_size": 4, "chars": chars}, 4)
    out = export_run("r", "safetensors", tmp_path / "st", home=home)
    model, meta = load_safetensors_export(out)
    assert meta["tokenizer"]["chars"] == chars and meta["iter_num"] == 7
    for k, v in ours.state_dict().items():
        assert torch.equal(model.state_dict()[k], v)


def test_export_refuses_non_empty_target_and_missing_run(home, tmp_path):
    _save_run(home, "r", {"tokenizer": "char", "vocab_size": 4, "chars": list("abc\n")}, 4)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "keep.txt").write_text("mine")
    with pytest.raises(GPTStudioError, match="not empty"):
        export_run("r", "hf", target, home=home)
    assert (target / "keep.txt").read_text() == "mine"
    with pytest.raises(GPTStudioError, match="no best checkpoint"):
        export_run("r", "hf", tmp_path / "x", which="best", home=home)


def test_cli_export(home, tmp_path, capsys):
    from gptstudio.cli import main

    _save_run(home, "r", {"tokenizer": "char", "vocab_size": 4, "chars": list("abc\n")}, 4)
    assert main(["export", "r", "--format", "safetensors", "--out", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "model.safetensors").is_file()
    assert main(["export", "nope", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no latest checkpoint" in err[0]


def test_finetune_a_local_gpt2_on_a_gpt2_dataset_end_to_end(home, tmp_path):
    from gptstudio.core.config import TrainConfig
    from gptstudio.core.dataset import prepare_dataset
    from gptstudio.core.sampler import Sampler, SampleSettings
    from gptstudio.core.trainer import train

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path / "tiny-gpt2")
    text = tmp_path / "mine.txt"
    text.write_text("To be, or not to be, that is the question.\n" * 60)
    prepare_dataset([text], "mine_gpt2", "gpt2", home=home)
    done = train(
        TrainConfig(
            dataset="mine_gpt2",
            run_name="ft",
            init_from=str(tmp_path / "tiny-gpt2"),
            block_size=32,
            batch_size=4,
            max_iters=30,
            lr_decay_iters=30,
            warmup_iters=0,
            learning_rate=3e-3,
            min_lr=3e-4,
            eval_interval=15,
            eval_iters=2,
            dropout=0.1,
            eval_sample_tokens=0,
            compile=False,
            device="cpu",
            dtype="float32",
        ),
        home=home,
    )
    assert done.status == "completed", done.reason
    ckpt = load_checkpoint(home / "runs" / "ft" / "ckpt.pt")
    assert ckpt["model_args"]["block_size"] == 32 and ckpt["model_args"]["vocab_size"] == 50257
    assert ckpt["model_args"].get("gelu_approximate") == "tanh"  # OpenAI's GELU kept
    assert done.best_val_loss < 10.0  # from ~10.8 (= ln 50257) for the random tiny GPT-2: it learned the text
    text_out = Sampler.from_run("ft", home=home, device="cpu").generate(
        "To be", SampleSettings(max_new_tokens=8, seed=0, temperature=0)
    )[0]
    assert isinstance(text_out, str) and text_out
