"""The formats a run can be exported in, and GGUF's quantizations: what the CLI offers, known without
loading torch (core/export.py and core/gguf_export.py do the work)."""

FORMATS = ("hf", "safetensors", "gguf")
QUANTS = ("f32", "f16", "q8_0")  # GGUF weights: exact, half the size, about a quarter
DEFAULT_QUANT = "f16"
