"""Keeps the models of the chosen checkpoints loaded, each loading on a JobRunner of its own.

`want(infos)` says which checkpoints must be ready; models nobody wants any more are let go (one model
per answering checkpoint stays in memory; a rewritten file has a new key, so it is loaded again) and
loads nobody wants are cancelled. Loads run side by side, so in compare mode the second model does not
wait for the first.
"""

from __future__ import annotations

from functools import partial

from PySide6.QtCore import QObject, Signal

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.core.streaming import load_sampler
from gptstudio.core.units import format_bytes, format_count
from gptstudio.gui.jobs import JobRunner


class ModelLoader(QObject):
    changed = Signal()  # a model loaded or could not be: readiness and status may differ

    def __init__(self, home=None, parent: QObject | None = None):
        super().__init__(parent)
        self._home = home
        self._wanted: list[CheckpointInfo] = []
        self._samplers: dict[str, object] = {}  # CheckpointInfo.key -> Sampler
        self._errors: dict[str, str] = {}  # CheckpointInfo.key -> why it could not load
        self._downloads: dict[str, tuple[int, int]] = {}  # CheckpointInfo.key -> (bytes done, total)
        self._runners: list[JobRunner] = []
        self._loading: dict[JobRunner, CheckpointInfo] = {}

    def want(self, infos: list[CheckpointInfo]) -> None:
        """Make exactly these checkpoints' models the loaded ones (loading what is missing)."""
        self._wanted = list(infos)
        keys = {c.key for c in infos}
        self._samplers = {k: s for k, s in self._samplers.items() if k in keys}
        self._errors = {k: e for k, e in self._errors.items() if k in keys}
        for runner, info in list(self._loading.items()):
            if info.key not in keys:
                runner.cancel()  # its model would be dropped on arrival anyway
                del self._loading[runner]
        for info in infos:
            loading = {c.key for c in self._loading.values()}
            if info.key not in self._samplers and info.key not in self._errors and info.key not in loading:
                runner = self._free_runner()
                self._loading[runner] = info
                runner.start(load_sampler, info, self._home)

    def _free_runner(self) -> JobRunner:
        for runner in self._runners:
            if runner not in self._loading:
                return runner
        runner = JobRunner(self)
        runner.progressed.connect(partial(self._on_download, runner))
        runner.succeeded.connect(partial(self._on_loaded, runner))
        runner.failed.connect(partial(self._on_failed, runner))
        self._runners.append(runner)
        return runner

    def _on_download(self, runner: JobRunner, progress) -> None:
        """A pretrained model's weights arriving: (bytes done, total)."""
        info = self._loading.get(runner)
        if info is not None:
            self._downloads[info.key] = progress
            self.changed.emit()

    # a job's result and its end arrive as two events: the model is stored (and `changed` says so) with
    # the result, so readiness and status never disagree in between
    def _on_loaded(self, runner: JobRunner, sampler) -> None:
        info = self._done(runner)
        if info is not None:
            self._samplers[info.key] = sampler
            self.changed.emit()

    def _on_failed(self, runner: JobRunner, message: str) -> None:
        info = self._done(runner)
        if info is not None:
            self._errors[info.key] = message
            self.changed.emit()

    def _done(self, runner: JobRunner) -> CheckpointInfo | None:
        info = self._loading.pop(runner, None)
        if info is not None:
            self._downloads.pop(info.key, None)
        return info

    # ------------------------------------------------------------------------------------ reading
    def ready(self) -> bool:
        """Every wanted checkpoint's model is loaded."""
        return bool(self._wanted) and all(c.key in self._samplers for c in self._wanted)

    def failed(self) -> bool:
        return any(c.key in self._errors for c in self._wanted)

    def samplers(self) -> list:
        """The loaded models, in the order they were wanted."""
        return [self._samplers[c.key] for c in self._wanted if c.key in self._samplers]

    def status(self) -> tuple[str, bool]:
        """One line per wanted checkpoint (loading, loaded with its numbers, or why not), and whether any failed."""
        parts = []
        for info in self._wanted:
            sampler = self._samplers.get(info.key)
            if info.key in self._errors:
                parts.append(f"Could not load {info.short_name}: {self._errors[info.key]}")
            elif sampler is None and info.key in self._downloads:
                done, total = self._downloads[info.key]
                of = f" of {format_bytes(total)}" if total else ""
                parts.append(f"Downloading {info.short_name}: {format_bytes(done)}{of}…")
            elif sampler is None:
                parts.append(f"Loading {info.short_name}…")
            else:
                params = format_count(sum(p.numel() for p in sampler.model.parameters()))
                kind = "chat model" if sampler.is_chat else "base model (continues text)"
                parts.append(
                    f"{info.short_name}: {kind}, {params} parameters, {sampler.tokenizer.kind} tokenizer, "
                    f"context {sampler.block_size}, on {sampler.device}"
                )
        return "  |  ".join(parts), self.failed()

    def shutdown(self, timeout_ms: int = 30_000) -> bool:
        """Cancel the loads and wait for their threads; True when all stopped in time."""
        self._loading.clear()
        return all([runner.shutdown(timeout_ms) for runner in self._runners])
