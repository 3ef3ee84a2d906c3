"""Chat fine-tuning: the loss mask, starting from one of the user's runs (or GPT-2), vocabulary growth,
resume, and the problems found before anything is written."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from gptstudio.core.catalog import list_checkpoints
from gptstudio.core.chat_dataset import ChatBatches, mask_file, prepare_chat_dataset
from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatTemplate
from gptstudio.core.checkpoint import load_checkpoint
from gptstudio.core.dataset import load_dataset_meta
from gptstudio.core.errors import ConfigError
from gptstudio.core.events import Eval
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.runs import list_runs
from gptstudio.core.tokenizer import tokenizer_from_meta
from gptstudio.core.trainer import plan_run, resume_config, train
from gptstudio.core.workspace import Workspace
from tests.core.chat_helpers import small_chat_jsonl
from tests.core.training_helpers import TEXT, tiny_config, write_char_dataset


def chat_data(home, tmp_path, name="chat", tokenizer_from=None, n=40):
    src = small_chat_jsonl(tmp_path / f"{name}.jsonl", n)
    return prepare_chat_dataset([src], name, home=home, tokenizer_from=tokenizer_from)


def test_the_loss_on_user_tokens_does_not_enter_the_gradient(home, tmp_path):
    meta = chat_data(home, tmp_path)
    folder = home / "datasets" / "chat"
    template = ChatTemplate(tokenizer_from_meta(meta))
    batches = ChatBatches(folder, "train", meta["dtype"], 32, 16, "cpu", np.random.default_rng(1), template.begin)
    x, y = batches.next()
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=32, vocab_size=meta["vocab_size"], n_layer=1, n_head=2, n_embd=16))
    logits, loss = model(x, y)  # exactly what the trainer's step computes
    logits.retain_grad()
    loss.backward()
    trained = y != -1
    assert trained.any() and (~trained).any()
    # no gradient reaches the model from any position whose target is not a reply token ...
    assert (logits.grad[~trained] == 0).all()
    assert (logits.grad[trained].abs().sum(-1) > 0).all()
    # ... and the loss is the mean over reply tokens, computed independently from the files
    data = np.fromfile(folder / "train.bin", dtype=meta["dtype"]).astype(np.int64)
    mask = np.fromfile(mask_file(folder, "train"), dtype=np.uint8)
    starts = np.fromfile(folder / "train_index.bin", dtype=np.int64).reshape(-1, 2)[:, 0]
    total, count = 0.0, 0
    for row in range(x.size(0)):
        row_x = x[row].numpy()
        start = next(s for s in starts if np.array_equal(data[s : s + 32], row_x[: len(data[s : s + 32])]))
        for j in range(32):
            pos = start + j + 1
            if pos < len(data) and mask[pos]:
                total += F.cross_entropy(logits[row, j].detach()[None], torch.tensor([data[pos]])).item()
                count += 1
    assert count == int(trained.sum()) and loss.item() == pytest.approx(total / count, rel=1e-5)


def test_grow_vocab_adds_mean_rows_and_keeps_the_tie():
    torch.manual_seed(0)
    model = GPT(GPTConfig(block_size=8, vocab_size=10, n_layer=1, n_head=1, n_embd=4))
    before = model.transformer.wte.weight.detach().clone()
    model.grow_vocab(13)
    w = model.transformer.wte.weight
    assert w.shape == (13, 4) and model.config.vocab_size == 13 and model.lm_head.weight is w
    assert torch.equal(w[:10], before) and torch.allclose(w[10:], before.mean(0).expand(3, 4))
    logits, _ = model(torch.zeros(1, 3, dtype=torch.long))
    assert logits.shape[-1] == 13


def pretrain_base(home, **overrides):
    write_char_dataset(home, "text", TEXT + "hello hi be nice 0123456789!")
    cfg = tiny_config(dataset="text", run_name="base", max_iters=10, block_size=32, **overrides)
    done = train(cfg, home=home)
    assert done.status == "completed", done.reason


def test_fine_tune_a_run_for_chat_then_resume(home, tmp_path):
    pretrain_base(home)
    base = load_checkpoint(home / "runs" / "base" / "ckpt.pt")
    chat_data(home, tmp_path, tokenizer_from="base")
    cfg = tiny_config(dataset="chat", run_name="chatty", init_from="base", block_size=64, max_iters=6, eval_interval=3)
    cfg.n_layer = 3  # the base model's shape wins: these weights fix it
    plan = plan_run(cfg, Workspace.open(home))
    assert plan.chat and plan.checkpoint is None and plan.init_checkpoint is not None
    assert plan.cfg.n_layer == 1 and plan.cfg.block_size == 32  # the base's context: it cannot grow
    assert plan.vocab_size == base["model_args"]["vocab_size"] + 5
    events = []
    done = train(cfg, home=home, report=events.append)
    assert done.status == "completed", done.reason
    ckpt = load_checkpoint(home / "runs" / "chatty" / "ckpt.pt")
    assert ckpt["tokenizer"]["chat_template"] == CHAT_TEMPLATE and ckpt["iter_num"] == 6
    assert ckpt["model_args"]["vocab_size"] == plan.vocab_size
    assert [e.iter for e in events if isinstance(e, Eval)] == [0, 3, 6]
    assert json.loads((home / "runs" / "chatty" / "status.json").read_text())["chat"] is True
    assert next(r for r in list_runs(home) if r["name"] == "chatty")["chat"] is True
    infos, _ = list_checkpoints(Workspace.open(home))
    assert {i.run: i.is_chat for i in infos} == {"base": False, "chatty": True}
    # the new run starts from the base's weights (a learning rate too small to move them shows it)
    still = tiny_config(dataset="chat", run_name="still", init_from="base", max_iters=1, learning_rate=1e-7, min_lr=0.0)
    assert train(still, home=home).status == "completed"
    after = load_checkpoint(home / "runs" / "still" / "ckpt.pt")["model"]
    for key, value in base["model"].items():
        rows = min(len(after[key]), len(value))  # the embedding grew, the positions were cropped to block_size
        assert torch.allclose(after[key][:rows], value[:rows], atol=1e-5), key
    # resume continues the chat run as any other
    again = train(resume_config("chatty", {"max_iters": 9}, home=home), home=home)
    assert again.status == "completed" and load_checkpoint(home / "runs" / "chatty" / "ckpt.pt")["iter_num"] == 9


def test_fine_tune_problems_are_found_before_anything_is_written(home, tmp_path):
    pretrain_base(home)
    chat_data(home, tmp_path, name="own_chars")  # its own character vocabulary, not the base's
    ws = Workspace.open(home)
    with pytest.raises(ConfigError) as err:
        plan_run(tiny_config(dataset="own_chars", run_name="x", init_from="base"), ws)
    assert "--tokenizer-from base" in str(err.value) and err.value.problems[0].fields == ("dataset",)
    with pytest.raises(ConfigError, match="neither one of your runs"):
        plan_run(tiny_config(dataset="own_chars", run_name="x", init_from="nosuchrun"), ws)
    chat_data(home, tmp_path, name="fits", tokenizer_from="base")
    with pytest.raises(ConfigError, match="is a base model: fine-tune it for chat in a new run"):
        plan_run(resume_config("base", {"dataset": "fits"}, home=home), ws)
    with pytest.raises(ConfigError, match="raise block_size to at least"):
        plan_run(tiny_config(dataset="fits", run_name="x", init_from="base", block_size=8), ws)
    assert not (home / "runs" / "x").exists()


def test_chat_from_scratch_and_eval_sample_is_a_reply(home, tmp_path):
    chat_data(home, tmp_path)
    events = []
    done = train(
        tiny_config(dataset="chat", run_name="s", block_size=32, max_iters=4, eval_interval=2, eval_sample_tokens=12),
        home=home,
        report=events.append,
    )
    assert done.status == "completed", done.reason
    sample = next(e for e in events if isinstance(e, Eval)).sample
    assert sample.startswith("hello 36 → ") and "<|" not in sample  # the first val message, then the reply


def test_fine_tune_local_gpt2_weights_grows_the_embedding(home, tmp_path):
    transformers = pytest.importorskip("transformers")
    torch.manual_seed(0)
    cfg = transformers.GPT2Config(vocab_size=50257, n_positions=64, n_embd=16, n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(cfg).save_pretrained(tmp_path / "tiny-gpt2")
    src = small_chat_jsonl(tmp_path / "c.jsonl", 12)
    prepare_chat_dataset([src], "g", "gpt2", home=home)
    meta = load_dataset_meta(home / "datasets" / "g")
    done = train(
        tiny_config(dataset="g", run_name="g2", init_from=str(tmp_path / "tiny-gpt2"), block_size=48, max_iters=2),
        home=home,
    )
    assert done.status == "completed", done.reason
    ckpt = load_checkpoint(home / "runs" / "g2" / "ckpt.pt")
    assert ckpt["model_args"]["vocab_size"] == meta["vocab_size"] == 50261
    assert ckpt["model"]["transformer.wte.weight"].shape == (50261, 16)


def test_a_chat_run_can_go_on_learning_text_of_the_same_characters(home, tmp_path):
    pretrain_base(home)
    chat_data(home, tmp_path, name="fits", tokenizer_from="base")
    done = train(tiny_config(dataset="fits", run_name="c", init_from="base", max_iters=2), home=home)
    assert done.status == "completed"
    plan = plan_run(tiny_config(dataset="text", run_name="t2", init_from="c"), Workspace.open(home))
    assert not plan.chat and plan.tokenizer["tokenizer"] == "char" and "chat_template" not in plan.tokenizer


def test_chat_fine_tune_preset_keeps_the_run_it_starts_from(home):
    from gptstudio.core.config import TrainConfig
    from gptstudio.core.presets import BUILTIN_PRESETS, CHAT_FINE_TUNE, apply_preset

    current = TrainConfig(dataset="shakespeare_chat", run_name="mine", init_from="shakespeare")
    cfg = apply_preset(BUILTIN_PRESETS[CHAT_FINE_TUNE], current)
    assert (cfg.init_from, cfg.dataset, cfg.run_name) == ("shakespeare", "shakespeare_chat", "mine")
    tiny = apply_preset(BUILTIN_PRESETS["Tiny (CPU, minutes)"])
    assert cfg.learning_rate < tiny.learning_rate / 2 and cfg.max_iters < tiny.max_iters and cfg.dropout > 0
    assert [p.code for p in cfg.validate()] == []


def test_init_from_a_checkpoint_file(home, tmp_path):
    pretrain_base(home)
    chat_data(home, tmp_path, tokenizer_from="base")
    path = home / "runs" / "base" / "ckpt.pt"
    plan = plan_run(tiny_config(dataset="chat", run_name="f", init_from=str(path)), Workspace.open(home))
    assert plan.init_checkpoint is not None and plan.chat and plan.tokenizer["chat_template"] == CHAT_TEMPLATE


def test_a_run_with_its_own_bpe_fine_tunes_for_chat(home, tmp_path):
    from gptstudio.core.chat import prepare_reply
    from gptstudio.core.chat_template import ChatMessage
    from gptstudio.core.dataset import demo_text_path, prepare_dataset
    from gptstudio.core.sampler import Sampler, SampleSettings

    text = tmp_path / "play.txt"
    text.write_text(demo_text_path().read_text(encoding="utf-8")[:60_000], encoding="utf-8")
    prepare_dataset([text], "text_bpe", "bpe", home=home, vocab_size=320)
    assert train(tiny_config(dataset="text_bpe", run_name="b", block_size=32, max_iters=4), home=home).status == (
        "completed"
    )
    meta = chat_data(home, tmp_path, tokenizer_from="b")
    base = load_checkpoint(home / "runs" / "b" / "ckpt.pt")
    assert meta["tokenizer"] == "bpe" and meta["chat_template"] == CHAT_TEMPLATE
    assert meta["vocab_size"] == base["tokenizer"]["vocab_size"]  # the BPE reserved the chat tokens already
    done = train(tiny_config(dataset="chat", run_name="bchat", init_from="b", block_size=32, max_iters=3), home=home)
    assert done.status == "completed", done.reason
    sampler = Sampler.from_run("bchat", home=home, device="cpu")
    assert sampler.is_chat and sampler.model.config.vocab_size == base["model_args"]["vocab_size"]
    prepared = prepare_reply(sampler, [ChatMessage("user", "hello 1")], SampleSettings(max_new_tokens=10, seed=0))
    assert prepared.mode == "chat" and "<|" not in "".join(p.text for p in prepared.stream(sampler))
