"""The engine: datasets, model, trainer, checkpoints, sampler. Never imports Qt, never prints."""
