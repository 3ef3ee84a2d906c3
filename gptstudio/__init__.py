"""GPT Studio: train your own small GPT on your own text, then talk to it."""

__version__ = "0.1.0"
