"""nanoGPT's meta.pkl, read without ever running code: the one reader of it (dataset import, run import,
the sampler).

A pickle runs code by naming a callable (`os.system`, a class...) that the unpickler looks up with
`find_class`. `RestrictedUnpickler` refuses every such lookup, so only what the pickle format builds
by itself loads: dicts, lists, tuples, sets, str, bytes, int, float, bool and None. Files over
MAX_PICKLE_BYTES are refused before reading. `read_meta_pkl` then turns nanoGPT's vocabulary
({'vocab_size', 'itos', 'stoi'}) into our tokenizer meta.
"""

from __future__ import annotations

import io
import os
import pickle

from gptstudio.core.errors import DatasetError
from gptstudio.core.tokenizer import GPT2_VOCAB, gpt2_meta

MAX_PICKLE_BYTES = 64 << 20  # a vocabulary is tiny; refuse anything that could exhaust memory


class RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        raise pickle.UnpicklingError(f"it asks to load {module}.{name}, which could run code")

    def persistent_load(self, pid):
        raise pickle.UnpicklingError("it refers to external objects")


def safe_loads(data: bytes, source: str = "the pickle"):
    """Unpickle plain data only; anything else raises DatasetError and nothing of it runs."""
    try:
        return RestrictedUnpickler(io.BytesIO(data)).load()
    except Exception as e:  # any malformed or hostile stream: one readable error, never its code
        raise DatasetError(
            f"{source} was refused: {e}. Only plain dicts, lists, strings and numbers "
            "are accepted; re-create it with nanoGPT's prepare.py."
        ) from None


def safe_load(path):
    """`safe_loads` of a file (at most MAX_PICKLE_BYTES)."""
    try:
        size = os.path.getsize(path)
        if size > MAX_PICKLE_BYTES:
            raise DatasetError(
                f"{path} is {size:,} bytes, too large for a vocabulary file: it is not a nanoGPT meta.pkl."
            )
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise DatasetError(f"Cannot read {path}: {e.strerror or e}.") from None
    return safe_loads(data, str(path))


def read_meta_pkl(path) -> dict:
    """Our tokenizer meta from a nanoGPT meta.pkl: {"tokenizer": "char", "vocab_size", "chars"} for a char
    vocabulary, GPT-2 BPE's for one with GPT-2's vocab_size and no itos. DatasetError for anything else."""
    meta = safe_load(path)
    if not isinstance(meta, dict):
        raise DatasetError(f"{path} is not a nanoGPT meta.pkl (expected a table with vocab_size, itos and stoi).")
    vocab, itos = meta.get("vocab_size"), meta.get("itos")
    if itos is None and vocab in (GPT2_VOCAB, 50304):  # nanoGPT pads GPT-2's vocabulary to 50304
        return gpt2_meta()
    if isinstance(itos, list):
        itos = dict(enumerate(itos))
    if not isinstance(vocab, int) or not 0 < vocab <= 65535 or not isinstance(itos, dict):
        raise DatasetError(
            f"{path} has no usable vocabulary (vocab_size and itos): only char-level and GPT-2 "
            "nanoGPT vocabularies can be read."
        )
    chars = [itos.get(i) for i in range(vocab)]
    if not all(isinstance(c, str) and len(c) == 1 for c in chars) or len(set(chars)) != vocab:
        raise DatasetError(
            f"{path} has a damaged vocabulary: itos must map 0..{vocab - 1} to distinct single characters "
            "(re-create it with nanoGPT's prepare.py)."
        )
    return {"tokenizer": "char", "vocab_size": vocab, "chars": chars}
