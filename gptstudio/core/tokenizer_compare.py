"""Compare tokenizers on the user's own text before preparing it: char, GPT-2 and a BPE of the chosen size.

For each: tokens per byte of text (fewer tokens = longer context in the same block, less compute per
byte), the vocabulary size, and the embedding parameters it costs a model of a given width. Measured on
a sample of the input (windows spread over all of it, the start of documents as their readers give it:
core/documents.sample_input_text), so a 100 MB folder
takes about as long as a 1 MB file; the BPE is trained on that sample, so its figure is an estimate of
what the full text gives.
"""

from __future__ import annotations

from dataclasses import dataclass

from gptstudio.core.bpe import check_vocab_size, train_bpe
from gptstudio.core.documents import sample_input_text
from gptstudio.core.errors import Cancelled, DatasetError
from gptstudio.core.textfiles import collect_input_files
from gptstudio.core.tokenizer import GPT2_VOCAB, gpt2_encoding, padded_vocab_size

SAMPLE_BYTES = 256 << 10  # enough for stable ratios (within a few % of the full demo text's)
SAMPLE_WINDOWS = 32


@dataclass(frozen=True)
class TokenizerStats:
    kind: str  # "char" | "gpt2" | "bpe"
    vocab_size: int  # token ids (bpe: the learned tokens plus the special tokens)
    tokens_per_byte: float
    note: str = ""  # how the figures were obtained, when it matters

    def embedding_params(self, n_embd: int) -> int:
        """Parameters of the token embedding (shared with the output layer) for a model `n_embd` wide."""
        return padded_vocab_size(self.vocab_size) * int(n_embd)


@dataclass(frozen=True)
class TokenizerComparison:
    stats: list[TokenizerStats]
    sample_bytes: int  # UTF-8 bytes of text measured
    input_bytes: int  # size of the whole input

    def by_kind(self) -> dict[str, TokenizerStats]:
        return {s.kind: s for s in self.stats}


def compare_tokenizers(
    inputs, bpe_vocab_size: int, *, sample_bytes: int = SAMPLE_BYTES, report=None, cancel=None
) -> TokenizerComparison:
    """Measure char, gpt2 and bpe (`bpe_vocab_size` learned tokens) on a sample of `inputs` (files or
    folders). `report` gets a short phase name; `cancel` stops with Cancelled between tokenizers."""
    check_vocab_size(bpe_vocab_size)

    def step(phase: str) -> None:
        if cancel is not None and cancel.is_set():
            raise Cancelled()
        if report is not None:
            report(phase)

    step("sampling")
    files = collect_input_files(inputs)
    pieces = sample_input_text(files, sample_bytes, SAMPLE_WINDOWS)
    nbytes = sum(len(p.encode("utf-8")) for p in pieces)
    if not nbytes:
        raise DatasetError("The input has no text to compare tokenizers on: give files with text.")
    input_bytes = sum(f.stat().st_size for f in files)
    sampled = nbytes < input_bytes

    chars = set().union(*map(set, pieces))
    n_chars = sum(len(p) for p in pieces)
    stats = [
        TokenizerStats(
            "char", len(chars), n_chars / nbytes, "characters seen in the sample; the whole text may have more"
        )
    ]
    step("gpt2")
    enc = gpt2_encoding()
    gpt2_tokens = sum(len(ids) for ids in enc.encode_ordinary_batch(pieces, num_threads=2))
    stats.append(TokenizerStats("gpt2", GPT2_VOCAB, gpt2_tokens / nbytes))
    step("bpe")
    tok = train_bpe(pieces, bpe_vocab_size, poll=lambda: step("bpe"))
    bpe_tokens = len(tok.encode_pieces(pieces))
    vocab, note = tok.vocab_size, ""
    if sampled:
        # the whole text fills the vocabulary further than the sample can: show the size asked for
        vocab = bpe_vocab_size + len(tok.special_tokens)
        note = "learned from the sample: the whole text compresses a little differently"
        if tok.learned_size < bpe_vocab_size:
            note = (
                f"the sample has pairs for only {tok.learned_size:,} of the {bpe_vocab_size:,} tokens: "
                "the whole text fills more and compresses better"
            )
    elif tok.learned_size < bpe_vocab_size:
        note = f"the text has pairs for only {tok.learned_size:,} of the {bpe_vocab_size:,} tokens asked"
    stats.append(TokenizerStats("bpe", vocab, bpe_tokens / nbytes, note))
    return TokenizerComparison(stats, nbytes, input_bytes)
