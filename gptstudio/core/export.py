"""Export a run's model so other tools can use it.

- `hf`: a Hugging Face GPT-2 folder (config.json, model.safetensors, generation_config.json and the
  tokenizer files: GPT-2's for gpt2 runs, the run's own tokenizer.json for bpe runs) that
  `transformers.AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` load.
  Char-level runs add `char_vocab.json` and a README saying how to tokenize (one id per character).
- `safetensors`: the weights plus our JSON metadata (model_args, tokenizer, iteration) only.
- `gguf`: one file for llama.cpp, LM Studio and Ollama, plus an Ollama Modelfile beside it
  (core/gguf_export.py writes it; `export_gguf` here says how to use it).
A folder is built beside the target and renamed into place, a file written to a temporary file and
renamed, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch

from gptstudio.core.chat_template import hf_chat_template, is_chat_meta, is_chat_tokenizer
from gptstudio.core.checkpoint import load_checkpoint, model_from_checkpoint
from gptstudio.core.errors import CheckpointError, GPTStudioError
from gptstudio.core.export_formats import DEFAULT_QUANT, FORMATS
from gptstudio.core.gguf_export import (
    GGUFExport,
    gguf_context_length,
    ollama_name,
    write_gguf,
    write_modelfile,
)
from gptstudio.core.model import GPT, GPTConfig
from gptstudio.core.pretrained import _gpt2_tokenizer_files, hf_config, to_hf_state_dict
from gptstudio.core.runs import resolve_checkpoint
from gptstudio.core.special_tokens import END_OF_TEXT, END_OF_TURN
from gptstudio.core.tokenizer import tokenizer_from_meta

__all__ = ["FORMATS", "export_gguf", "export_run", "load_safetensors_export", "resolve_checkpoint"]

CHAR_README = """# {name} (GPT Studio, char-level)

This model reads and writes one token per character. `char_vocab.json` lists the characters: the id
of a character is its position in the list.

```python
import json, torch
from transformers import AutoModelForCausalLM
chars = json.load(open("char_vocab.json", encoding="utf-8"))["chars"]
stoi = {{c: i for i, c in enumerate(chars)}}
model = AutoModelForCausalLM.from_pretrained(".")
ids = torch.tensor([[stoi[c] for c in "ROMEO:"]])
out = model.generate(ids, max_new_tokens=100, do_sample=True, top_k=200, temperature=0.8)
print("".join(chars[i] for i in out[0].tolist()))
```
"""

CHAT_README = """
## Chatting

This is a chat model. A conversation is written with special tokens, whose ids are listed in
`char_vocab.json` under `special_tokens` (after the characters): `<|endoftext|>` first, then for each
turn `<|user|>` (or `<|system|>`, `<|assistant|>`), the characters of the message, and `<|end|>`.
For a reply, end with `<|assistant|>` and generate until the model writes `<|end|>`
(`chat_template` in `char_vocab.json` is the same template in Jinja).
"""


def export_run(
    run: str,
    fmt: str,
    out: str | os.PathLike,
    *,
    which: str = "latest",
    home=None,
    force: bool = False,
    quant: str = DEFAULT_QUANT,
    report=None,
    cancel=None,
) -> Path:
    """Export a run (name, folder or checkpoint file) in a format; return the folder or file written.

    quant, report(fraction) and cancel concern `gguf` only (the other formats are quick)."""
    if fmt not in FORMATS:
        raise GPTStudioError(f"Unknown export format {fmt!r}: use {', '.join(FORMATS)}.")
    if fmt == "gguf":
        return export_gguf(
            run, out, which=which, home=home, force=force, quant=quant, report=report, cancel=cancel
        ).path
    out = Path(out).expanduser()
    if out.exists() and any(out.iterdir()) and not force:
        raise GPTStudioError(f"{out} already exists and is not empty; choose another folder or use --force.")
    ckpt = load_checkpoint(resolve_checkpoint(run, which, home))
    model = model_from_checkpoint(ckpt)
    tok = ckpt.get("tokenizer") or {"tokenizer": "gpt2"}
    tmp = out.parent / f".tmp-export-{out.name}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if fmt == "hf":
            _write_hf(model, tok, tmp, name=Path(run).name)
        else:
            _write_safetensors(model, ckpt, tok, tmp)
        if out.exists():
            shutil.rmtree(out)
        os.replace(tmp, out)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        raise GPTStudioError(f"Export to {out} failed ({e.strerror or e}); nothing was written there.") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def gguf_target(out: str | os.PathLike, name: str, quant: str) -> Path:
    """The .gguf file to write: `out` itself (with .gguf added if it lacks it), or, for an existing
    folder, `<name>-<quant>.gguf` inside it."""
    out = Path(out).expanduser()
    if out.is_dir():
        return out / f"{name}-{quant}.gguf"
    return out if out.suffix.lower() == ".gguf" else out.with_name(out.name + ".gguf")


def export_gguf(
    run: str,
    out: str | os.PathLike,
    *,
    quant: str = DEFAULT_QUANT,
    which: str = "latest",
    home=None,
    force: bool = False,
    report=None,
    cancel=None,
) -> GGUFExport:
    """Write a run's model as a .gguf file with an Ollama Modelfile beside it (see core/gguf_export.py)."""
    path = resolve_checkpoint(run, which, home)
    name = path.parent.name if Path(run).expanduser().is_file() else Path(run).name
    target = gguf_target(out, name, quant)
    if target.exists() and not force:
        raise GPTStudioError(f"{target} already exists; choose another file name or use --force.")
    ckpt = load_checkpoint(path)
    model = model_from_checkpoint(ckpt)
    tokenizer = tokenizer_from_meta(ckpt.get("tokenizer") or {"tokenizer": "gpt2"})
    written = write_gguf(
        model,
        tokenizer,
        target,
        quant=quant,
        name=name,
        description=_description(ckpt),
        report=report,
        cancel=cancel,
    )
    context = gguf_context_length(model.config.block_size)
    modelfile = write_modelfile(written, name=name, context_length=context, chat=is_chat_tokenizer(tokenizer))
    return GGUFExport(written, modelfile, ollama_name(name), quant, context)


def _description(ckpt: dict) -> str:
    bits = ["Trained with GPT Studio"]
    dataset = ckpt.get("dataset")
    if isinstance(dataset, str) and dataset:
        bits.append(f"on the dataset {dataset}")
    if isinstance(ckpt.get("iter_num"), int):
        bits.append(f"for {ckpt['iter_num']} iterations")
    return " ".join(bits) + "."


def _write_hf(model: GPT, tok: dict, folder: Path, name: str) -> None:
    from safetensors.torch import save_file

    chat = is_chat_meta(tok)
    special_ids = tok.get("special_tokens") or {}
    eot = tok.get("eot_token") if tok.get("tokenizer") in ("gpt2", "bpe") else special_ids.get(END_OF_TEXT)
    # a chat model's reply ends at its end-of-turn token: transformers' generate() stops there
    eos = special_ids[END_OF_TURN] if chat else eot
    save_file(to_hf_state_dict(model), str(folder / "model.safetensors"), metadata={"format": "pt"})
    (folder / "config.json").write_text(json.dumps(hf_config(model, eot, eos), indent=2))
    gen: dict[str, object] = {"do_sample": True, "temperature": 0.8, "top_k": 200, "max_new_tokens": 500}
    if eot is not None:
        gen.update(bos_token_id=eot, eos_token_id=eos)
    (folder / "generation_config.json").write_text(json.dumps(gen, indent=2))
    if tok.get("tokenizer") == "gpt2":
        vocab_json, merges = _gpt2_tokenizer_files()
        shutil.copyfile(vocab_json, folder / "vocab.json")
        shutil.copyfile(merges, folder / "merges.txt")
        end = END_OF_TURN if chat else END_OF_TEXT
        special: dict[str, object] = {"bos_token": END_OF_TEXT, "eos_token": end, "unk_token": END_OF_TEXT}
        config = {
            "tokenizer_class": "GPT2Tokenizer",
            "model_max_length": model.config.block_size,
            "add_prefix_space": False,
            **special,
        }
        if chat:  # the template's tokens, and the template itself for apply_chat_template
            added = {t: i for t, i in special_ids.items() if t != END_OF_TEXT}
            special["additional_special_tokens"] = list(added)
            config["added_tokens_decoder"] = {
                str(i): {"content": t, "special": True, "lstrip": False, "rstrip": False, "normalized": False}
                for t, i in sorted({END_OF_TEXT: eot, **added}.items(), key=lambda kv: kv[1])
            }
            config["additional_special_tokens"] = list(added)
            config["chat_template"] = hf_chat_template()
        (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
        (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))
    elif tok.get("tokenizer") == "bpe":
        _write_hf_bpe_tokenizer(tok, folder, model.config.block_size, chat)
    else:
        vocab = {"chars": tok.get("chars", [])}
        if chat:  # no transformers tokenizer reads characters: the README says how to use these
            vocab.update(special_tokens=special_ids, chat_template=hf_chat_template())
        (folder / "char_vocab.json").write_text(json.dumps(vocab, ensure_ascii=False))
        readme = CHAR_README.format(name=name) + (CHAT_README if chat else "")
        (folder / "README.md").write_text(readme, encoding="utf-8")


def _write_hf_bpe_tokenizer(tok: dict, folder: Path, block_size: int, chat: bool = False) -> None:
    """A run's own BPE as Hugging Face tokenizer files: its tokenizer.json as trained, loaded by
    `AutoTokenizer.from_pretrained` as a fast tokenizer that gives our ids; a chat model's carries the chat
    template (its special tokens are in tokenizer.json already) and ends at end-of-turn."""
    from gptstudio.core.bpe import BPETokenizer

    tokenizer = BPETokenizer(tok["tokenizer_json"])  # refuses a damaged one before anything is written
    (folder / "tokenizer.json").write_text(tokenizer.json, encoding="utf-8")
    names = list(tokenizer.special_tokens)
    end = END_OF_TURN if chat else END_OF_TEXT
    special = {"bos_token": END_OF_TEXT, "eos_token": end, "additional_special_tokens": names[1:]}
    (folder / "special_tokens_map.json").write_text(json.dumps(special, indent=2))
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": block_size,
        "add_prefix_space": False,
        "clean_up_tokenization_spaces": False,  # decoding must give back the text exactly
        **special,
    }
    if chat:
        config["chat_template"] = hf_chat_template()
    (folder / "tokenizer_config.json").write_text(json.dumps(config, indent=2))


def _write_safetensors(model: GPT, ckpt: dict, tok: dict, folder: Path) -> None:
    from safetensors.torch import save_file

    sd = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items() if k != "lm_head.weight"}
    meta = {
        "model_args": ckpt["model_args"],
        "tokenizer": tok,
        "iter_num": ckpt.get("iter_num"),
        "best_val_loss": _plain(ckpt.get("best_val_loss")),
        "dataset": ckpt.get("dataset"),
    }
    save_file(sd, str(folder / "model.safetensors"), metadata={"gptstudio": json.dumps(meta)})
    (folder / "gptstudio.json").write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")


def _plain(v):
    return float(v) if torch.is_tensor(v) or isinstance(v, float) else v


def load_safetensors_export(folder: str | os.PathLike) -> tuple[GPT, dict]:
    """Read back a `safetensors` export: (model, metadata)."""
    from safetensors import safe_open

    path = Path(folder) / "model.safetensors"
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["gptstudio"])
            sd = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not iterable)
    except Exception as e:
        raise CheckpointError(f"{path} is not a GPT Studio safetensors export: {e}") from None
    model = GPT(GPTConfig.from_dict(meta["model_args"]))
    sd["lm_head.weight"] = sd["transformer.wte.weight"]
    model.load_state_dict(sd)
    return model, meta
