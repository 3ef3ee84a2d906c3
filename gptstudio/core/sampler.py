"""Text generation: a KV-cached, streaming sampler with nanoGPT's controls and a few more.

How the next token is chosen, at every step and for every sample, in this order:
  1. the model's logits for the next position, cut to the tokenizer's vocabulary (GPT-2 models pad
     theirs to 50304; the padding ids cannot be decoded, so they are never chosen);
  2. repetition penalty (CTRL / Hugging Face): for every token already in the context (prompt and
     generated text), a positive logit is divided by the penalty and a negative one multiplied;
  3. temperature 0: greedy, the argmax. Otherwise logits / temperature, then top-k, then top-p
     (nucleus: keep the smallest set of most likely tokens whose probabilities sum to >= top_p, at
     least one), softmax, and a draw from a `torch.Generator` seeded for this call only.
  With top_p 1 and no repetition penalty this is exactly nanoGPT's `GPT.generate`.

`TokenPiece.prob` and `.top` (the top-5 alternatives) are probabilities in the distribution the token
was actually drawn from: after the penalty, temperature, top-k and top-p, renormalised. For greedy
decoding (temperature 0) that distribution would always say 1.0, so there they are the model's
softmax at temperature 1 after the repetition penalty.

The context window. nanoGPT feeds the last block_size tokens and recomputes all of them for every
new token. Here the prompt is fed once into a KV cache, then one token per step. Once the context
passes block_size the oldest token must go, but the model has absolute position embeddings: every
remaining token moves to a new position, so every cached key and value is stale. Two policies
(`SampleSettings.slide`):
  - "exact" (the default): from then on each token recomputes the window of the last block_size
    tokens, as nanoGPT does: with temperature 0 the same tokens as full recomputation, at nanoGPT's
    cost per token once the window is full (no cache can help with absolute positions).
  - "fast": re-feed the last block_size // 2 tokens into an empty cache, then continue cached until
    the window is full again. Identical to "exact" until the first slide; after it the model sees
    between block_size / 2 and block_size tokens of context, at about 2 / block_size of the cost
    per token. Meant for interactive use (the Playground), where long replies must stay fast.
`stream(..., use_cache=False)` is the plain nanoGPT way, kept as the reference for tests and the
benchmark.

Streaming. Each generated token yields a `TokenPiece` whose `text` is what became visible with it.
GPT-2 BPE tokens can end inside a multi-byte UTF-8 character (an emoji is often 2-3 tokens): those
bytes are held and the whole character comes with the token that completes it, so a piece never
holds half a character (bytes still incomplete when generation ends are dropped). With stop
sequences, text that could be the start of one is held back until it is clear that it is not; the
stop sequence itself is never shown, and that sample ends.

Cancelling: the `cancel` event is checked before every token, so generation stops within one token;
`stream` and `generate` then raise `Cancelled` (text held back for stop matching is dropped).
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import math
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.nn import functional as F

from gptstudio.core.chat_template import ChatTemplate, is_chat_tokenizer
from gptstudio.core.checkpoint import load_checkpoint, model_from_checkpoint
from gptstudio.core.devices import available_devices, device_info, resolve_device, resolve_dtype
from gptstudio.core.errors import Cancelled, CheckpointError, WorkspaceError
from gptstudio.core.model import KVCache
from gptstudio.core.runs import checkpoint_paths
from gptstudio.core.safe_pickle import read_meta_pkl
from gptstudio.core.sample_settings import (
    CHECKPOINT_CHOICES,
    MAX_NEW_TOKENS,
    MAX_SAMPLES,
    MAX_SEED,
    MAX_TEMPERATURE,
    SLIDES,
    SamplerError,
    SampleSettings,
)
from gptstudio.core.tokenizer import GPT2Tokenizer, tokenizer_from_meta
from gptstudio.core.workspace import Workspace, validate_name

__all__ = [
    "CHECKPOINT_CHOICES",
    "MAX_NEW_TOKENS",
    "MAX_SAMPLES",
    "MAX_SEED",
    "MAX_TEMPERATURE",
    "SLIDES",
    "TOP_ALTERNATIVES",
    "SampleSettings",
    "Sampler",
    "SamplerError",
    "TextAssembler",
    "TokenPiece",
    "apply_repetition_penalty",
    "apply_top_k",
    "apply_top_p",
    "choose_tokens",
    "sampling_distribution",
]

TOP_ALTERNATIVES = 5


@dataclass
class TokenPiece:
    """One generated token and the text it made visible.

    text: new visible text; "" while a UTF-8 character is incomplete or text is held back because it
      may start a stop sequence (it then arrives with a later piece).
    token_id / token: the chosen token and its own text (bytes that are not whole UTF-8 characters
      are shown as escapes, e.g. '\\xf0\\x9f').
    prob, top: the chosen token's probability and the TOP_ALTERNATIVES most likely tokens as
      (token text, probability), in the distribution the token was drawn from (see module doc).
    index: position of the token in its sample's continuation (0 = first); sample: which sample.
    done: this is the sample's last piece (a stop sequence was hit or max_new_tokens reached).
    stopped: the sample ended at a stop sequence (done and not merely out of tokens).
    """

    text: str
    token_id: int
    prob: float
    top: list[tuple[str, float]]
    index: int
    sample: int
    token: str = ""
    done: bool = False
    stopped: bool = False


# ---------------------------------------------------------------------------------------------
# choosing the next token (pure functions on logits, shared by every path and tested directly)


def apply_repetition_penalty(logits: torch.Tensor, seen: torch.Tensor | None, penalty: float) -> torch.Tensor:
    """CTRL's penalty: logits of tokens already seen move towards 'less likely' by the factor."""
    if seen is None or penalty == 1.0:
        return logits
    penalised = torch.where(logits > 0, logits / penalty, logits * penalty)
    return torch.where(seen, penalised, logits)


def apply_top_k(logits: torch.Tensor, k: int | None) -> torch.Tensor:
    """Keep the k largest logits (ties with the k-th are kept, as in nanoGPT); the rest -inf."""
    if not k or k >= logits.size(-1):
        return logits
    kth = torch.topk(logits, k, dim=-1).values[..., -1:]
    return logits.masked_fill(logits < kth, float("-inf"))


def apply_top_p(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Keep the smallest set of most likely tokens whose probabilities sum to >= p (at least one)."""
    if p >= 1.0:
        return logits
    sorted_logits, order = torch.sort(logits, dim=-1, descending=True)
    probs = F.softmax(sorted_logits, dim=-1)
    mass_before = probs.cumsum(dim=-1) - probs  # a token goes once the ones above it already reach p
    drop_sorted = mass_before >= p
    drop_sorted[..., 0] = False
    drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
    return logits.masked_fill(drop, float("-inf"))


def sampling_distribution(
    logits: torch.Tensor, settings: SampleSettings, seen: torch.Tensor | None = None
) -> torch.Tensor:
    """Probabilities (N, V) the next token is drawn from (for greedy: softmax at temperature 1)."""
    logits = apply_repetition_penalty(logits.float(), seen, settings.repetition_penalty)
    if settings.temperature == 0:
        return F.softmax(logits, dim=-1)
    logits = logits / settings.temperature
    logits = apply_top_p(apply_top_k(logits, settings.top_k), settings.top_p)
    return F.softmax(logits, dim=-1)


def choose_tokens(
    logits: torch.Tensor, settings: SampleSettings, seen: torch.Tensor | None, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """(ids (N,), probs (N, V)): the chosen tokens and the distribution they came from."""
    probs = sampling_distribution(logits, settings, seen)
    if settings.temperature == 0:
        # argmax of the logits themselves: softmax can round two close logits to one probability
        return apply_repetition_penalty(logits.float(), seen, settings.repetition_penalty).argmax(dim=-1), probs
    return torch.multinomial(probs, num_samples=1, generator=generator).squeeze(1), probs


# ---------------------------------------------------------------------------------------------
# the context window and its KV cache


class _Window:
    """The tokens so far (prompt + generated) and how they are fed to the model.

    mode None: no cache, the last block_size tokens are recomputed every step (nanoGPT).
    mode "exact"/"fast": the cache holds tokens[start : start + cache.pos]; see the module doc for
    what happens when the context outgrows block_size.
    """

    def __init__(self, model, prompt_ids: list[int], n: int, max_new: int, device, cache_dtype, mode):
        self.model = model
        self.block = model.config.block_size
        # room for the prompt and the new tokens, but for long generations only a few windows' worth:
        # `append` then drops tokens the window can no longer reach
        room = len(prompt_ids) + min(max_new, 4 * self.block + 64)
        self.tokens = torch.empty((n, room), dtype=torch.long, device=device)
        self.tokens[:, : len(prompt_ids)] = torch.tensor(prompt_ids, dtype=torch.long, device=device)
        self.length = len(prompt_ids)
        self.start = 0
        self.mode = mode
        self.cache = KVCache(model.config, n, self.block, device, cache_dtype) if mode else None

    def next_logits(self) -> torch.Tensor:
        """Float logits (N, V) for the token after the current context."""
        if self.cache is None:
            return self._forward(self.length - self.block, None)
        if self.length - self.start > self.block:
            if self.mode == "exact":
                # every position shifted: nothing cached is valid, recompute the window (as nanoGPT)
                return self._forward(self.length - self.block, None)
            self.start = self.length - max(1, self.block // 2)
            self.cache.pos = 0
        return self._forward(self.start + self.cache.pos, self.cache)

    def _forward(self, first: int, cache) -> torch.Tensor:
        logits, _ = self.model(self.tokens[:, max(0, first) : self.length], cache=cache)
        return logits[:, -1, :].float()

    def append(self, ids: torch.Tensor) -> None:
        if self.length == self.tokens.size(1):
            self._compact()
        self.tokens[:, self.length] = ids
        self.length += 1

    def _compact(self) -> None:
        """Keep the last block_size + 1 tokens (all a window or the cache can still refer to)."""
        keep = self.block + 1
        drop = self.length - keep
        self.tokens[:, :keep] = self.tokens[:, drop : self.length].clone()
        self.length = keep
        self.start = max(0, self.start - drop)


# ---------------------------------------------------------------------------------------------
# turning token bytes into visible text


class TextAssembler:
    """Bytes in, visible text out: whole UTF-8 characters only, stop sequences cut and held back."""

    def __init__(self, stops=()):
        self.stops = tuple(stops)
        self.longest = max((len(s) for s in self.stops), default=0)
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        # decoded text not handed out yet; what was handed out never begins a stop sequence (it
        # would have been held back), so only this tail is ever searched
        self.pending = ""
        self.done = False
        self.stopped = False

    def push(self, data: bytes, final: bool = False) -> str:
        """Add a token's bytes; return the text that became visible (final: release what is held)."""
        if self.done:
            return ""
        self.pending += self._decoder.decode(data)
        found = [i for i in (self.pending.find(s) for s in self.stops) if i >= 0]
        if found:
            end, self.stopped, self.done = min(found), True, True
        elif final:
            end, self.done = len(self.pending), True
        else:
            end = len(self.pending) - self._held()
        piece, self.pending = self.pending[:end], self.pending[end:]
        return piece

    def stop(self) -> str:
        """The model ended the text itself (a stop token): release what is held and finish."""
        piece = self.push(b"", final=True)
        self.stopped = True
        return piece

    def _held(self) -> int:
        """Length of the longest tail of the pending text that could begin a stop sequence."""
        for k in range(min(self.longest - 1, len(self.pending)), 0, -1):
            tail = self.pending[-k:]
            if any(s.startswith(tail) for s in self.stops):
                return k
        return 0


# ---------------------------------------------------------------------------------------------
# loading


def _resolve_device(spec: str) -> str:
    dev = resolve_device(spec)
    if device_info(dev) is None:
        have = ", ".join(d.id for d in available_devices())
        raise SamplerError(f"Device {spec!r} is not available on this machine: use auto or one of {have}.")
    return dev


def _hf_folder_tokenizer(folder: Path):
    """The tokenizer of a Hugging Face GPT-2 folder: GPT-2's BPE, or the characters of our char export."""
    vocab = folder / "char_vocab.json"
    if not vocab.is_file():
        return GPT2Tokenizer()
    try:
        chars = json.loads(vocab.read_text(encoding="utf-8"))["chars"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise CheckpointError(f"{vocab} is damaged ({e}): export the model again.") from None
    return tokenizer_from_meta(
        {"tokenizer": "char", "vocab_size": len(chars) if isinstance(chars, list) else 0, "chars": chars}
    )


def _number(x, kind):
    try:
        return kind(x.item() if torch.is_tensor(x) else x)
    except (TypeError, ValueError, RuntimeError):
        return None


def _val_loss(x) -> float | None:
    """None before any evaluation (stored as inf, or nanoGPT's 1e9)."""
    loss = _number(x, float)
    return loss if loss is not None and math.isfinite(loss) and loss < 1e9 else None


def _dataset_name(ckpt: dict):
    ds = ckpt.get("dataset")
    if isinstance(ds, dict):
        ds = ds.get("name")
    if not ds and isinstance(ckpt.get("config"), dict):
        ds = ckpt["config"].get("dataset")
    return ds if isinstance(ds, str) and ds else None


# ---------------------------------------------------------------------------------------------


class Sampler:
    """A model and its tokenizer, ready to generate. Build it with `open`/`from_run`/`from_checkpoint_file`."""

    def __init__(self, model, tokenizer, *, device=None, info: dict | None = None):
        self.model = model.eval()
        self.tokenizer = tokenizer
        first = next(iter(model.parameters()), None)
        self.device = (
            torch.device(device) if device is not None else (first.device if first is not None else torch.device("cpu"))
        )
        self.info = dict(info or {})
        self.last_seed: int | None = None
        if tokenizer.vocab_size > model.config.vocab_size:
            raise CheckpointError(
                f"The tokenizer has {tokenizer.vocab_size} tokens but the model only "
                f"{model.config.vocab_size}: they do not belong together. Load the "
                "checkpoint with the vocabulary of the dataset it was trained on."
            )
        self._amp_dtype = None
        if self.device.type == "cuda":  # what training picks on this GPU: bf16 where it is native, else fp16
            self._amp_dtype = getattr(torch, resolve_dtype("auto", str(self.device)))
        # keys/values are stored in the dtype the attention computes in
        self._cache_dtype = self._amp_dtype or (first.dtype if first is not None else torch.float32)
        self._bytes: dict[int, bytes] = {}
        self._labels: dict[int, str] = {}

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def open(cls, target: str, which: str = "latest", *, home=None, device: str = "auto") -> Sampler:
        """A run name in the workspace, a run or nanoGPT out_dir folder, or a checkpoint file."""
        try:
            name = validate_name(str(target), "run name")
            run_dir = Workspace.open(home).runs_dir / name
        except WorkspaceError:
            run_dir = None
        if run_dir is not None and run_dir.is_dir():
            return cls.from_folder(run_dir, which, device=device)
        path = Path(target).expanduser()
        if path.is_dir():
            return cls.from_folder(path, which, device=device)
        if path.is_file():
            return cls.from_checkpoint_file(path, device=device)
        raise CheckpointError(
            f"{target!r} is neither a run in {Workspace.open(home).runs_dir} nor a checkpoint "
            "file or folder: check the name, or train the run first."
        )

    @classmethod
    def from_run(cls, run_name: str, which: str = "latest", *, home=None, device: str = "auto") -> Sampler:
        ws = Workspace.open(home)
        run_dir = ws.run_dir(run_name)
        if not run_dir.is_dir():
            raise CheckpointError(
                f"There is no run named {run_name!r} in {ws.runs_dir}: check the name, or train it first."
            )
        return cls.from_folder(run_dir, which, device=device)

    @classmethod
    def from_folder(cls, folder, which: str = "latest", *, device: str = "auto") -> Sampler:
        """A run folder or a nanoGPT out_dir: ckpt.pt (latest) or best.pt (best)."""
        if which not in CHECKPOINT_CHOICES:
            raise SamplerError(f"Unknown checkpoint {which!r}: use latest or best.")
        found = checkpoint_paths(folder)
        if which not in found:
            if not found:
                raise CheckpointError(f"{folder} has no checkpoint (ckpt.pt) yet: train the run first.")
            raise CheckpointError(
                f"{folder} has no best checkpoint (best.pt) yet; it is written when the "
                "validation loss improves. Use the latest checkpoint instead."
            )
        return cls.from_checkpoint_file(found[which], device=device)

    @classmethod
    def from_checkpoint_file(cls, path, *, device: str = "auto", tokenizer_meta: dict | None = None) -> Sampler:
        """Any GPT Studio or nanoGPT checkpoint. Without tokenizer info in it (nanoGPT), a meta.pkl beside
        it gives the char vocabulary; with neither, GPT-2 BPE (as nanoGPT's sample.py does)."""
        path = Path(path)
        ckpt = load_checkpoint(path)
        meta = tokenizer_meta if tokenizer_meta is not None else ckpt.get("tokenizer")
        if meta is not None and not isinstance(meta, dict):
            raise CheckpointError(f"{path.name} has a damaged tokenizer entry (expected a table).")
        if meta is None and (path.parent / "meta.pkl").is_file():
            meta = read_meta_pkl(path.parent / "meta.pkl")
        tokenizer = tokenizer_from_meta(meta) if meta is not None else GPT2Tokenizer()
        model_vocab = ckpt["model_args"].get("vocab_size")
        if meta is None and isinstance(model_vocab, int) and model_vocab < tokenizer.vocab_size:
            raise CheckpointError(
                f"{path.name} has no tokenizer information and its vocabulary "
                f"({model_vocab} tokens) is too small for GPT-2 BPE: put the "
                "dataset's meta.pkl in the same folder."
            )
        dev = _resolve_device(device)
        model = model_from_checkpoint(ckpt, dev, dropout=0.0)
        info = {
            "path": path,
            "model_args": dict(ckpt["model_args"]),
            "iter_num": _number(ckpt.get("iter_num"), int),
            "best_val_loss": _val_loss(ckpt.get("best_val_loss")),
            "dataset": _dataset_name(ckpt),
        }
        return cls(model, tokenizer, device=dev, info=info)

    @classmethod
    def from_pretrained(cls, init_from: str, *, home=None, device: str = "auto", report=None, cancel=None) -> Sampler:
        """A pretrained GPT-2 without training first, as nanoGPT's `sample.py --init_from=gpt2`: a name
        (gpt2, gpt2-medium, gpt2-large, gpt2-xl) or a Hugging Face GPT-2 folder, looked up as training's
        `init_from` is (core/pretrained.py: the folder, the workspace, the Hugging Face cache, then a
        download when online; report(done_bytes, total_bytes) follows a download). The tokenizer is
        GPT-2's, unless the folder is a char-level export of ours (it has char_vocab.json)."""
        from gptstudio.core.pretrained import load_hf_gpt2, resolve_pretrained

        folder = resolve_pretrained(init_from, Workspace.open(home).home, report=report, cancel=cancel)
        dev = _resolve_device(device)
        model = load_hf_gpt2(folder).to(dev)
        info = {"path": folder, "model_args": dict(vars(model.config)), "pretrained": init_from}
        return cls(model, _hf_folder_tokenizer(folder), device=dev, info=info)

    # -- what was loaded ----------------------------------------------------------------------

    @property
    def block_size(self) -> int:
        return self.model.config.block_size

    @property
    def model_args(self) -> dict:
        return dict(self.info.get("model_args") or vars(self.model.config))

    @property
    def iter_num(self) -> int | None:
        return self.info.get("iter_num")

    @property
    def best_val_loss(self) -> float | None:
        return self.info.get("best_val_loss")

    @property
    def dataset(self) -> str | None:
        return self.info.get("dataset")

    @property
    def checkpoint_path(self) -> Path | None:
        return self.info.get("path")

    @property
    def is_chat(self) -> bool:
        """A chat model: fine-tuned on conversations with the chat template (core/chat_template.py)."""
        return is_chat_tokenizer(self.tokenizer)

    @functools.cached_property
    def chat_template(self) -> ChatTemplate | None:
        return ChatTemplate(self.tokenizer) if self.is_chat else None

    def summary(self) -> str:
        """One line: which checkpoint, its training state, tokenizer and device."""
        parts = [str(self.checkpoint_path) if self.checkpoint_path else "model"]
        if self.info.get("pretrained"):
            parts[0] = f"pretrained {self.info['pretrained']} ({self.checkpoint_path})"
        if self.iter_num is not None:
            parts.append(f"iter {self.iter_num}")
        if self.best_val_loss is not None:
            parts.append(f"best val loss {self.best_val_loss:.4f}")
        if self.dataset:
            parts.append(f"dataset {self.dataset}")
        parts.append(f"{self.tokenizer.kind} tokenizer ({self.tokenizer.vocab_size} tokens)")
        parts.append("chat model" if self.is_chat else "base model")
        parts.append(f"context {self.block_size}")
        parts.append(f"on {self.device}")
        return ", ".join(parts)

    # -- prompts ----------------------------------------------------------------------------------

    def unknown_chars(self, prompt: str) -> list[str]:
        """Characters of the prompt the tokenizer cannot encode (char models only)."""
        return self.tokenizer.unknown_chars(prompt)

    def start_token(self) -> int:
        """What an empty prompt starts from: end-of-text (BPE), else a newline (char; id 0 if none)."""
        eot = getattr(self.tokenizer, "eot_token", None)
        if eot is not None:
            return eot
        return getattr(self.tokenizer, "stoi", {}).get("\n", 0)

    def encode_prompt(self, prompt: str, drop_unknown: bool = False) -> list[int]:
        """The prompt's tokens as the model will see them: never empty, at most block_size (the last ones)."""
        if not isinstance(prompt, str):
            raise SamplerError("The prompt must be text.")
        ids = self.tokenizer.encode(prompt, drop_unknown=drop_unknown) if prompt else []
        if not ids:
            ids = [self.start_token()]
        return ids[-self.block_size :]

    # -- generation ---------------------------------------------------------------------------

    def stream(
        self, prompt: str, settings: SampleSettings | None = None, cancel=None, *, use_cache: bool = True
    ) -> Iterator[TokenPiece]:
        """Yield a TokenPiece per generated token, per sample. The prompt is checked right away.

        use_cache=False recomputes the whole window for every token (nanoGPT's way): the reference.
        """
        settings = settings if settings is not None else SampleSettings()
        if not isinstance(settings, SampleSettings):
            raise SamplerError("settings must be a SampleSettings.")
        ids = self.encode_prompt(prompt, settings.drop_unknown)
        return self.stream_ids(ids, settings, cancel, use_cache=use_cache)

    def stream_ids(
        self,
        ids: list[int],
        settings: SampleSettings | None = None,
        cancel=None,
        *,
        stop_ids=frozenset(),
        use_cache: bool = True,
    ) -> Iterator[TokenPiece]:
        """Like `stream`, from a prompt already in tokens (e.g. a chat template's). A sample ends when it
        draws one of `stop_ids` (that token's text is never shown)."""
        settings = settings if settings is not None else SampleSettings()
        if not isinstance(settings, SampleSettings):
            raise SamplerError("settings must be a SampleSettings.")
        ids = [int(i) for i in ids][-self.block_size :] or [self.start_token()]
        if max(ids) >= self.tokenizer.vocab_size or min(ids) < 0:
            raise SamplerError(
                f"The prompt has token ids outside the model's vocabulary (0-{self.tokenizer.vocab_size - 1})."
            )
        seed = settings.seed if settings.seed is not None else secrets.randbits(63)
        self.last_seed = seed
        return self._run(ids, settings, seed, cancel, settings.slide if use_cache else None, frozenset(stop_ids))

    def generate(
        self,
        prompt: str,
        settings: SampleSettings | None = None,
        cancel=None,
        report: Callable[[TokenPiece], None] | None = None,
        *,
        use_cache: bool = True,
    ) -> list[str]:
        """The full continuation of every sample (without the prompt). `report` gets each TokenPiece."""
        settings = settings if settings is not None else SampleSettings()
        texts: list[list[str]] = [[] for _ in range(settings.num_samples)]
        for piece in self.stream(prompt, settings, cancel, use_cache=use_cache):
            texts[piece.sample].append(piece.text)
            if report is not None:
                report(piece)
        return ["".join(t) for t in texts]

    def _compute(self):
        """inference_mode (+ autocast on CUDA) around one step only: never across a `yield`,
        where the caller's own code runs."""
        stack = contextlib.ExitStack()
        stack.enter_context(torch.inference_mode())
        if self._amp_dtype is not None:
            stack.enter_context(torch.autocast(device_type=self.device.type, dtype=self._amp_dtype))
        return stack

    def _run(self, ids: list[int], s: SampleSettings, seed: int, cancel, mode, stop_ids) -> Iterator[TokenPiece]:
        n, vocab = s.num_samples, self.tokenizer.vocab_size
        generator = torch.Generator(device=self.device)
        generator.manual_seed(seed)
        with self._compute():
            window = _Window(self.model, ids, n, s.max_new_tokens, self.device, self._cache_dtype, mode)
            seen = None
            if s.repetition_penalty != 1.0:
                seen = torch.zeros((n, vocab), dtype=torch.bool, device=self.device)
                seen[:, torch.tensor(ids, device=self.device)] = True
        texts = [TextAssembler(s.stop) for _ in range(n)]
        k = min(TOP_ALTERNATIVES, vocab)
        for step in range(s.max_new_tokens):
            if cancel is not None and cancel.is_set():
                raise Cancelled("Generation stopped by the user.")
            with self._compute():
                logits = window.next_logits()[:, :vocab]  # padded ids cannot be decoded
                chosen, probs = choose_tokens(logits, s, seen, generator)
                window.append(chosen)
                if seen is not None:
                    seen.scatter_(1, chosen[:, None], True)
                top_probs, top_ids = probs.topk(k, dim=-1)
                chosen_probs = probs.gather(1, chosen[:, None]).squeeze(1)
            chosen_l, chosen_p = chosen.tolist(), chosen_probs.tolist()
            top_p, top_i = top_probs.tolist(), top_ids.tolist()
            last = step == s.max_new_tokens - 1
            for i, assembler in enumerate(texts):
                if assembler.done:
                    continue
                tok = chosen_l[i]
                text = assembler.stop() if tok in stop_ids else assembler.push(self._token_bytes(tok), final=last)
                top = [(self.token_label(t), p) for t, p in zip(top_i[i], top_p[i]) if p > 0]
                yield TokenPiece(
                    text=text,
                    token_id=tok,
                    prob=chosen_p[i],
                    top=top,
                    index=step,
                    sample=i,
                    token=self.token_label(tok),
                    done=assembler.done,
                    stopped=assembler.stopped,
                )
            if all(a.done for a in texts):
                return

    def _token_bytes(self, token_id: int) -> bytes:
        data = self._bytes.get(token_id)
        if data is None:
            data = self._bytes[token_id] = self.tokenizer.decode_bytes([token_id])
        return data

    def token_label(self, token_id: int) -> str:
        """A token's own text; bytes that are not whole UTF-8 characters shown as escapes ('\\xf0')."""
        label = self._labels.get(token_id)
        if label is None:
            label = self._labels[token_id] = self._token_bytes(token_id).decode("utf-8", errors="backslashreplace")
        return label
