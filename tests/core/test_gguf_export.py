"""GGUF export read back with the gguf package's own reader: names, shapes, types, metadata, tokenizer.

(llama.cpp itself loading these files is tests/core/test_gguf_llamacpp.py, marked `llamacpp`.)"""

import threading
from pathlib import Path

import numpy as np
import pytest
import torch

from gptstudio.cli import main
from gptstudio.core.checkpoint import save_checkpoint
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.export import export_gguf, export_run
from gptstudio.core.gguf_export import GGUFExportError, gguf_vocab, modelfile_path, write_gguf
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.tokenizer import CharTokenizer, GPT2Tokenizer

gguf = pytest.importorskip("gguf")

CHARS = list("\n\t !\\abcdeé—😀\x01")


def char_model(bias=False, n_embd=32, vocab=None):
    torch.manual_seed(0)
    vocab = len(CHARS) if vocab is None else vocab
    args = dict(n_layer=2, n_head=2, n_embd=n_embd, block_size=24, vocab_size=vocab, bias=bias, dropout=0.0)
    return GPT(GPTConfig(**args)).eval(), args


def save_run(home, name, model, args, tokenizer_meta):
    save_checkpoint(
        {
            "model": model.state_dict(),
            "model_args": args,
            "iter_num": 7,
            "best_val_loss": 2.0,
            "config": {},
            "dataset": "d",
            "tokenizer": tokenizer_meta,
        },
        home / "runs" / name / "ckpt.pt",
    )
    return name


def fields(reader) -> dict:
    return {k: f.contents() for k, f in reader.fields.items()}


def tensor_map(reader) -> dict:
    return {t.name: t for t in reader.tensors}


def llama_cpp_unescape(token: str) -> str:
    """llama.cpp's llama_unescape_rwkv_token (llama-vocab.cpp), ported line by line."""
    out, escaping, hex_left, acc = bytearray(), False, 0, 0
    for c in token.encode("utf-8"):
        if hex_left:
            acc = (acc << 4) + (c - ord("a") + 10 if c >= ord("a") else c - ord("0"))
            hex_left -= 1
            if not hex_left:
                out.append(acc)
                acc = 0
        elif escaping:
            out += {ord("t"): b"\t", ord("n"): b"\n", ord("r"): b"\r"}.get(c, b"" if c == ord("x") else bytes([c]))
            hex_left = 2 if c == ord("x") else 0
            escaping = False
        elif c == ord("\\"):
            escaping = True
        else:
            out.append(c)
    return out.decode("utf-8")


def expected_names(n_layer):
    names = {"token_embd.weight", "position_embd.weight", "output_norm.weight", "output_norm.bias"}
    for i in range(n_layer):
        for part in ("attn_norm", "attn_qkv", "attn_output", "ffn_norm", "ffn_up", "ffn_down"):
            names |= {f"blk.{i}.{part}.weight", f"blk.{i}.{part}.bias"}
    return names


def test_char_model_f32_round_trip(tmp_path):
    model, _ = char_model(bias=False)
    tok = CharTokenizer(CHARS)
    path = write_gguf(model, tok, tmp_path / "m.gguf", quant="f32", name="tiny", description="d")
    reader = gguf.GGUFReader(path)
    f = fields(reader)
    assert f["general.architecture"] == "gpt2" and f["general.name"] == "tiny"
    assert f["gpt2.context_length"] == 256  # llama.cpp runs at least 256 positions: the table is extended
    assert "Trained on windows of 24 tokens." in f["general.description"]
    assert f["gpt2.embedding_length"] == 32
    assert f["gpt2.feed_forward_length"] == 128
    assert f["gpt2.block_count"] == 2
    assert f["gpt2.attention.head_count"] == 2
    assert f["gpt2.attention.layer_norm_epsilon"] == pytest.approx(1e-5)
    assert f["general.file_type"] == int(gguf.LlamaFileType.ALL_F32)
    # the characters, exactly, as llama.cpp's rwkv vocabulary reads them back
    assert f["tokenizer.ggml.model"] == "rwkv"
    assert [llama_cpp_unescape(t) for t in f["tokenizer.ggml.tokens"]] == CHARS
    assert f["tokenizer.ggml.add_bos_token"] is False
    assert "tokenizer.ggml.eos_token_id" not in f  # no end token: rwkv's default is none
    # every tensor llama.cpp's gpt2 loader requires, in its layout, with our exact weights
    tensors = tensor_map(reader)
    assert set(tensors) == expected_names(2)  # no output.weight: tied to token_embd
    sd = model.state_dict()
    for gguf_name, ours in [
        ("token_embd.weight", "transformer.wte.weight"),
        ("blk.1.attn_qkv.weight", "transformer.h.1.attn.c_attn.weight"),
        ("blk.0.ffn_up.weight", "transformer.h.0.mlp.c_fc.weight"),
        ("blk.0.ffn_down.weight", "transformer.h.0.mlp.c_proj.weight"),
        ("output_norm.weight", "transformer.ln_f.weight"),
    ]:
        t = tensors[gguf_name]
        assert t.tensor_type == gguf.GGMLQuantizationType.F32
        assert list(t.shape) == list(reversed(sd[ours].shape))  # ggml lists dimensions innermost first
        np.testing.assert_array_equal(np.asarray(t.data).reshape(sd[ours].shape), sd[ours].numpy())
    # positions past block_size repeat the last trained one
    positions = np.asarray(tensors["position_embd.weight"].data).reshape(256, 32)
    wpe = sd["transformer.wpe.weight"].numpy()
    np.testing.assert_array_equal(positions[:24], wpe)
    np.testing.assert_array_equal(positions[24:], np.repeat(wpe[-1:], 256 - 24, axis=0))
    # bias=False: zero biases of the right widths
    assert list(tensors["blk.0.attn_qkv.bias"].shape) == [96]
    assert list(tensors["blk.0.ffn_up.bias"].shape) == [128]
    assert not np.asarray(tensors["blk.0.ffn_up.bias"].data).any()


def test_model_biases_are_written(tmp_path):
    model, _ = char_model(bias=True)
    with torch.no_grad():
        model.transformer.h[0].mlp.c_fc.bias.fill_(0.25)
    reader = gguf.GGUFReader(write_gguf(model, CharTokenizer(CHARS), tmp_path / "b.gguf", quant="f32"))
    np.testing.assert_allclose(np.asarray(tensor_map(reader)["blk.0.ffn_up.bias"].data), 0.25)


def test_gpt2_bpe_tokenizer_and_padded_vocabulary(tmp_path):
    torch.manual_seed(0)
    args = dict(n_layer=1, n_head=2, n_embd=32, block_size=16, vocab_size=50304, bias=True, dropout=0.0)
    model = GPT(GPTConfig(**args)).eval()
    reader = gguf.GGUFReader(write_gguf(model, GPT2Tokenizer(), tmp_path / "g.gguf", quant="f16"))
    f = fields(reader)
    assert f["tokenizer.ggml.model"] == "gpt2" and f["tokenizer.ggml.pre"] == "gpt-2"
    tokens, types = f["tokenizer.ggml.tokens"], f["tokenizer.ggml.token_type"]
    assert len(tokens) == 50257  # the padding rows above GPT-2's vocabulary are left out
    assert tokens[:3] == ["!", '"', "#"] and tokens[198] == "Ċ" and tokens[50256] == "<|endoftext|>"
    assert tokens[464] == "The" and tokens[262] == "Ġthe"  # GPT-2's own encoder.json entries
    assert types[50256] == int(gguf.TokenType.CONTROL) and types[0] == int(gguf.TokenType.NORMAL)
    merges = f["tokenizer.ggml.merges"]
    assert len(merges) == 50000 and merges[0] == "Ġ t"
    assert f["tokenizer.ggml.bos_token_id"] == f["tokenizer.ggml.eos_token_id"] == 50256
    tensors = tensor_map(reader)
    assert list(tensors["token_embd.weight"].shape) == [32, 50257]
    assert tensors["token_embd.weight"].tensor_type == gguf.GGMLQuantizationType.F16
    assert tensors["position_embd.weight"].tensor_type == gguf.GGMLQuantizationType.F32
    assert tensors["blk.0.attn_norm.weight"].tensor_type == gguf.GGMLQuantizationType.F32


def test_gpt2_tokens_are_the_byte_level_alphabet_of_every_id():
    vocab = gguf_vocab(GPT2Tokenizer())
    import json

    from gptstudio.core.tokenizer import _gpt2_data_dir

    encoder = json.loads((_gpt2_data_dir() / "encoder.json").read_text(encoding="utf-8"))
    assert {t: i for i, t in enumerate(vocab.tokens)} == encoder


def test_q8_0_quantizes_matrices_and_falls_back_to_f16_for_short_rows(tmp_path):
    model, _ = char_model(n_embd=32)
    reader = gguf.GGUFReader(write_gguf(model, CharTokenizer(CHARS), tmp_path / "q.gguf", quant="q8_0"))
    tensors = tensor_map(reader)
    qkv = tensors["blk.0.attn_qkv.weight"]
    assert qkv.tensor_type == gguf.GGMLQuantizationType.Q8_0
    back = gguf.quants.dequantize(np.asarray(qkv.data), qkv.tensor_type)
    want = model.state_dict()["transformer.h.0.attn.c_attn.weight"].numpy()
    assert np.abs(back.reshape(want.shape) - want).max() < np.abs(want).max() / 100
    assert fields(reader)["general.file_type"] == int(gguf.LlamaFileType.MOSTLY_Q8_0)
    # rows of 16 values cannot form q8_0 blocks of 32: f16, as llama.cpp's converter does
    narrow, _ = char_model(n_embd=16)
    reader = gguf.GGUFReader(write_gguf(narrow, CharTokenizer(CHARS), tmp_path / "n.gguf", quant="q8_0"))
    assert tensor_map(reader)["blk.0.attn_qkv.weight"].tensor_type == gguf.GGMLQuantizationType.F16


def test_char_vocabulary_without_line_break_is_refused(tmp_path):
    model, _ = char_model(vocab=3)
    with pytest.raises(GGUFExportError, match="line-break"):
        write_gguf(model, CharTokenizer(list("abc")), tmp_path / "x.gguf")
    assert list(tmp_path.iterdir()) == []


def test_cancel_leaves_nothing(tmp_path):
    cancel = threading.Event()
    cancel.set()
    model, _ = char_model()
    with pytest.raises(Cancelled):
        write_gguf(model, CharTokenizer(CHARS), tmp_path / "c.gguf", cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_progress_is_reported_per_tensor(tmp_path):
    model, _ = char_model()
    seen = []
    write_gguf(model, CharTokenizer(CHARS), tmp_path / "p.gguf", report=seen.append)
    assert len(seen) == len(expected_names(2)) and seen == sorted(seen) and seen[-1] == 1.0


def test_export_run_writes_gguf_and_modelfile(home, tmp_path):
    model, args = char_model()
    run = save_run(home, "my_Run", model, args, CharTokenizer(CHARS).to_meta())
    done = export_gguf(run, tmp_path / "out" / "model.gguf", quant="f16", home=home)
    assert done.path == tmp_path / "out" / "model.gguf" and done.path.is_file()
    assert done.modelfile == tmp_path / "out" / "Modelfile"
    text = done.modelfile.read_text()
    assert "FROM ./model.gguf\n" in text and "PARAMETER num_ctx 256\n" in text
    assert 'TEMPLATE """{{ .Prompt }}"""' in text
    assert done.ollama_name == "my_run"
    lines = "\n".join(line for _tool, line in done.instructions())
    assert f"ollama create my_run -f {done.modelfile}" in lines and "ollama run my_run" in lines
    assert f"lms import {done.path}" in lines and f"llama-cli -m {done.path} -c 256" in lines
    assert done.path.stat().st_mode & 0o044 == 0o044  # readable by Ollama's service user
    description = fields(gguf.GGUFReader(done.path))["general.description"]
    assert "dataset d" in description and "7 iterations" in description
    # an existing file is kept unless forced; a second model in the folder gets its own Modelfile
    with pytest.raises(GPTStudioError, match="already exists"):
        export_gguf(run, done.path, home=home)
    assert export_run(run, "gguf", done.path, home=home, force=True, quant="f32") == done.path
    other = export_gguf(run, tmp_path / "out", quant="q8_0", home=home)  # a folder: RUN-QUANT.gguf inside
    assert other.path == tmp_path / "out" / "my_Run-q8_0.gguf"
    assert other.modelfile == tmp_path / "out" / "my_Run-q8_0.Modelfile"
    assert "FROM ./model.gguf\n" in done.modelfile.read_text()  # the first Modelfile is untouched
    assert modelfile_path(done.path) == done.modelfile


def test_cli_export_gguf(home, tmp_path, capsys):
    model, args = char_model()
    save_run(home, "cli", model, args, CharTokenizer(CHARS).to_meta())
    assert main(["export", "cli", "--format", "gguf", "--quant", "q8_0", "--out", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert f"as GGUF q8_0 to {tmp_path / 'c.gguf'}" in out
    assert "ollama create cli -f" in out and "lms import" in out and "llama-server -m" in out
    assert (tmp_path / "Modelfile").is_file()
    assert main(["export", "cli", "--format", "gguf", "--out", str(tmp_path / "c.gguf")]) == 2
    assert "already exists" in capsys.readouterr().err


def test_a_chat_model_carries_its_template_and_ends_at_end_of_turn(home, tmp_path):
    from gptstudio.core.chat_template import CHAT_TEMPLATE, hf_chat_template
    from gptstudio.core.special_tokens import END_OF_TURN, SPECIAL_TOKENS

    tok = CharTokenizer(CHARS).with_chat_template(CHAT_TEMPLATE)
    model, args = char_model(vocab=tok.vocab_size)
    run = save_run(home, "chatty", model, args, tok.to_meta())
    done = export_gguf(run, tmp_path / "chat.gguf", quant="f32", home=home)
    f = fields(gguf.GGUFReader(done.path))
    assert f["tokenizer.ggml.eos_token_id"] == tok.special_id(END_OF_TURN)
    assert f["tokenizer.chat_template"] == hf_chat_template()
    tokens = f["tokenizer.ggml.tokens"]
    assert [tokens[tok.special_id(t)] for t in SPECIAL_TOKENS] == list(SPECIAL_TOKENS)
    assert all(f["tokenizer.ggml.token_type"][tok.special_id(t)] == 3 for t in SPECIAL_TOKENS)  # control
    text = done.modelfile.read_text()
    assert '<|assistant|>"""' in text and f'PARAMETER stop "{END_OF_TURN}"' in text and "{{ .Prompt }}" not in text


def test_the_ollama_template_renders_our_chat_prompt_with_the_system_prompt_once():
    """Ollama passes the system prompt inside .Messages: the TEMPLATE, rendered the way Ollama renders
    it (each message in turn), gives exactly GPT Studio's prompt for the same conversation."""
    import re

    from gptstudio.core.chat_template import CHAT_TEMPLATE, ChatMessage, ChatTemplate
    from gptstudio.core.gguf_export import modelfile_text

    text = modelfile_text(Path("m.gguf"), Path("Modelfile"), name="m", context_length=64, chat=True)
    template = re.search(r'TEMPLATE """(.*?)"""', text, re.S)[1]
    before, body, after = re.fullmatch(r"(.*)\{\{ range \.Messages \}\}(.*)\{\{ end \}\}(.*)", template, re.S).groups()
    messages = [ChatMessage("system", "be a cab!"), ChatMessage("user", "a dab"), ChatMessage("assistant", "é😀")]
    messages.append(ChatMessage("user", "bed"))
    rendered = before
    for m in messages:
        rendered += body.replace("{{ .Role }}", m.role).replace("{{ .Content }}", m.content)
    rendered += after
    tok = CharTokenizer(CHARS).with_chat_template(CHAT_TEMPLATE)
    assert rendered.count("be a cab!") == 1
    assert tok.decode(ChatTemplate(tok).prompt(messages)) == rendered
