"""Load a pickle that may only hold plain data (nanoGPT's meta.pkl), never running its code.

A pickle runs code by naming a callable (`os.system`, a class...) that the unpickler looks up with
`find_class`. `RestrictedUnpickler` refuses every such lookup, so only what the pickle format builds
by itself loads: dicts, lists, tuples, sets, str, bytes, int, float, bool and None.
"""

from __future__ import annotations

import io
import os
import pickle

from gptstudio.core.errors import DatasetError

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
