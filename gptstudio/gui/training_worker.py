"""Run training for the Training tab: in-process in a QThread, or as a torchrun child process.

Both workers push the engine's typed events (gptstudio.core.events) into one `EventPump`. The pump
lives in the GUI thread and drains its buffer on a 100 ms timer, so the GUI handles events at most
~10 times a second however fast the steps come, and the training thread never waits on the GUI
(pushing is a lock and a deque append, so a GUI thread blocked in `wait()` cannot deadlock it).
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shlex
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import psutil
from PySide6.QtCore import QObject, Qt, QThread, QTimer, Signal, Slot

import gptstudio
from gptstudio.core import trainer
from gptstudio.core.config import TrainConfig, save_config
from gptstudio.core.errors import Cancelled, GPTStudioError
from gptstudio.core.events import CheckpointSaved, Eval, Event, Finished, Message, RunStarted, Step, event_from_dict

DRAIN_INTERVAL_MS = 100  # <= 10 GUI updates per second
STOP_GRACE_S = 30.0  # how long a torchrun child may take to save and exit after STOP


class EventPump(QObject):
    """Thread-safe event buffer drained in the GUI thread; turns events into Qt signals.

    Consecutive Step events of one drain arrive together in `sig_steps(list)`; `sig_drained` follows
    every drain that delivered something, so the GUI redraws once per drain.
    """

    sig_started = Signal(object)  # RunStarted
    sig_steps = Signal(object)  # list[Step]
    sig_eval = Signal(object)  # Eval
    sig_checkpoint = Signal(object)  # CheckpointSaved
    sig_message = Signal(str, str)  # level (info|warning|error), text
    sig_finished = Signal(object)  # Finished: exactly once per run, always last
    sig_drained = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self._lock = threading.Lock()
        self._queue: collections.deque = collections.deque()
        self._finished = False
        self._timer = QTimer(self)
        self._timer.setInterval(DRAIN_INTERVAL_MS)
        self._timer.timeout.connect(self.drain)

    def start(self) -> None:
        with self._lock:
            self._queue.clear()
        self._finished = False
        self._timer.start()

    def push(self, event) -> None:
        """Any thread: queue an event for the next drain."""
        with self._lock:
            self._queue.append(event)

    def log(self, text: str, level: str = "info") -> None:
        self.push(Message(text=text, level=level))

    def stop(self) -> None:
        """The run's thread or process has ended: deliver what is left, then stop polling."""
        self.drain()
        self._timer.stop()

    @Slot()
    def drain(self) -> None:
        with self._lock:
            events = list(self._queue)
            self._queue.clear()
        if self._finished:
            # after the end only log lines still count (e.g. torchrun's exit messages)
            events = [ev for ev in events if isinstance(ev, Message)]
        if not events:
            return
        steps: list[Step] = []
        final = None
        for ev in events:
            if isinstance(ev, Step):
                steps.append(ev)
                continue
            if steps:
                self.sig_steps.emit(steps)
                steps = []
            if isinstance(ev, Finished):
                if not self._finished:
                    self._finished, final = True, ev
            else:
                self._dispatch(ev)
        if steps and not self._finished:
            self.sig_steps.emit(steps)
        self.sig_drained.emit()
        if final is not None:
            self.sig_finished.emit(final)

    def _dispatch(self, ev: Event) -> None:
        """Emit one event other than Step and Finished (late ones after Finished are dropped)."""
        if self._finished and not isinstance(ev, Message):
            return
        if isinstance(ev, RunStarted):
            self.sig_started.emit(ev)
        elif isinstance(ev, Eval):
            self.sig_eval.emit(ev)
        elif isinstance(ev, CheckpointSaved):
            self.sig_checkpoint.emit(ev)
        elif isinstance(ev, Message):
            self.sig_message.emit(ev.level, ev.text)


def readable_failure(exc: BaseException) -> str:
    """One plain sentence for an exception that escaped the engine, with what to try."""
    if isinstance(exc, GPTStudioError):
        return str(exc)
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:300] if str(exc) else name
    if isinstance(exc, MemoryError) or "out of memory" in text.lower() or name == "OutOfMemoryError":
        return "Out of memory: lower batch_size or block_size (or use a smaller model), then Resume."
    return f"Training stopped by an unexpected error ({name}: {text}); the last checkpoint is kept."


_LIVE: set = set()  # in-process workers whose thread has not finished yet


class TrainingWorker(QObject):
    """Runs `trainer.train` in a QThread of its own. `stop()` asks it to save and stop."""

    sig_done = Signal()  # emitted in the worker thread when train() has returned

    def __init__(self, config: TrainConfig, home: Path, pump: EventPump, resume_overrides: dict | None = None):
        super().__init__()
        self.config, self.home, self.pump = config, Path(home), pump
        self.run_name = config.run_name
        self.resume_overrides = resume_overrides or {}
        self.cancel_event = threading.Event()
        self._saw_finished = False
        self.thread_: QThread | None = None

    def start(self, owner: QObject | None = None) -> None:
        # No Qt parent: Qt aborts when a running QThread is deleted with its parent. _LIVE keeps the
        # worker and its thread alive until wait() has seen the thread finish, whatever happens to the tab.
        self.thread_ = QThread()
        self.moveToThread(self.thread_)
        self.thread_.started.connect(self.run)
        # Direct: quit from the worker thread itself, so a GUI thread blocked in wait() still sees it end.
        self.sig_done.connect(self.thread_.quit, Qt.DirectConnection)
        _LIVE.add(self)
        self.thread_.start()

    def stop(self) -> None:
        self.cancel_event.set()

    def kill(self) -> None:
        """In-process training cannot be killed safely; stopping is cooperative (one iteration)."""
        self.stop()

    def is_running(self) -> bool:
        return self.thread_ is not None and self.thread_.isRunning()

    def wait(self, timeout_ms: int) -> bool:
        """Join the thread; True once it has finished (then it may be deleted)."""
        if self.thread_ is not None and not self.thread_.wait(max(0, int(timeout_ms))):
            return False
        _LIVE.discard(self)
        return True

    def _report(self, event) -> None:
        if isinstance(event, Finished):
            self._saw_finished = True
        self.pump.push(event)

    @Slot()
    def run(self) -> None:
        final = None
        try:
            config = self.config
            if config.init_from == "resume":
                # the run's saved settings (reading the checkpoint can take a while: not in the GUI thread)
                config = trainer.resume_config(self.run_name, self.resume_overrides, home=self.home)
            final = trainer.train(config, home=self.home, report=self._report, cancel=self.cancel_event)
        except Cancelled as e:
            final = Finished(status="stopped", iter=-1, reason=str(e))
        except BaseException as e:  # the app must live on whatever the engine raises
            if not isinstance(e, (GPTStudioError, MemoryError)):
                from gptstudio.gui.errors import log_exception

                log_exception(type(e), e, e.__traceback__)
            final = Finished(status="failed", iter=-1, reason=readable_failure(e))
        finally:
            if not self._saw_finished:
                self.pump.push(
                    final
                    if isinstance(final, Finished)
                    else Finished(status="failed", iter=-1, reason="The trainer returned no result.")
                )
            self.sig_done.emit()


def child_env(home: Path) -> dict:
    """Environment for a child `python -m gptstudio`: finds this package and flushes every line."""
    env = dict(os.environ)
    package_root = str(Path(gptstudio.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["GPTSTUDIO_HOME"] = str(home)
    return env


def torchrun_command(
    config_path: str,
    run_name: str,
    nproc: int,
    home: Path | None = None,
    *,
    nnodes: int = 1,
    node_rank: int = 0,
    master_addr: str = "",
    master_port: int = 29500,
    python: str | None = None,
    jsonl: bool = True,
    resume: bool = False,
) -> list[str]:
    """The torchrun command line for a training job (one node: --standalone; several: rendezvous).

    A new run takes its settings from config_path; a resumed one (`--resume`) its saved settings,
    with config_path holding only what to change (the device)."""
    cmd = [python or sys.executable, "-m", "torch.distributed.run"]
    if nnodes <= 1:
        cmd.append("--standalone")
    else:
        cmd += [
            f"--nnodes={nnodes}",
            f"--node_rank={node_rank}",
            f"--master_addr={master_addr}",
            f"--master_port={master_port}",
        ]
    cmd += [f"--nproc_per_node={nproc}", "-m", "gptstudio"]
    if home is not None:
        cmd += ["--home", str(home)]
    cmd += ["train", "--config", str(config_path), "--resume" if resume else "--name", run_name]
    if jsonl:
        cmd.append("--jsonl")
    return cmd


def multinode_commands(
    nnodes: int, nproc: int, master_addr: str, master_port: int, config_file: str, run_name: str
) -> list[str]:
    """Copyable shell lines, one per machine, to run the same job on several machines."""
    return [
        shlex.join(
            ["torchrun"]
            + torchrun_command(
                config_file,
                run_name,
                nproc,
                nnodes=nnodes,
                node_rank=rank,
                master_addr=master_addr,
                master_port=master_port,
                jsonl=False,
            )[3:]
        )
        for rank in range(nnodes)
    ]


def signal_tree(pid: int, kill: bool = False) -> list[psutil.Process]:
    """Terminate (or kill) a process and all its children (torchrun's ranks); return the children."""
    try:
        parent = psutil.Process(pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for p in children + [parent]:
        try:
            p.kill() if kill else p.terminate()
        except psutil.NoSuchProcess:
            pass
    return children


class TorchrunWorker(QObject):
    """Runs `torchrun ... -m gptstudio train --jsonl` as a child and feeds its JSON lines to the pump.

    stderr lines become log lines. Stop writes the run's STOP file (rank 0 saves a checkpoint and all
    ranks exit); if the child is still alive after `grace_s`, its whole process tree is terminated.
    A child that exits without a Finished event is reported as failed.
    """

    sig_done = Signal()  # emitted from a helper thread when the child has exited and its output is read

    def __init__(
        self,
        config: TrainConfig,
        home: Path,
        nproc: int,
        pump: EventPump,
        resume_overrides: dict | None = None,
        grace_s: float = STOP_GRACE_S,
    ):
        super().__init__()
        self.config, self.home, self.nproc, self.pump = config, Path(home), int(nproc), pump
        self.run_name = config.run_name
        self.resume = config.init_from == "resume"
        self.resume_overrides = resume_overrides or {}
        self.grace_s = grace_s
        self.proc: subprocess.Popen | None = None
        self._tmpdir: tempfile.TemporaryDirectory | None = None
        self._saw_finished = False
        self._errors: list[str] = []
        self._done = threading.Event()
        self._stopping = False

    @property
    def stop_file(self) -> Path:
        return self.home / "runs" / self.run_name / "STOP"

    def start(self, owner: QObject | None = None) -> None:
        self._tmpdir = tempfile.TemporaryDirectory(prefix="gptstudio-torchrun-")
        config_path = Path(self._tmpdir.name) / "config.json"
        if self.resume:
            config_path.write_text(json.dumps(self.resume_overrides), encoding="utf-8")
        else:
            save_config(self.config, config_path)
        cmd = torchrun_command(str(config_path), self.run_name, self.nproc, self.home, resume=self.resume)
        self.pump.log("Starting: " + shlex.join(cmd))
        # Own process group/session: Stop and close can end torchrun and every rank together.
        extra = (
            {"creationflags": subprocess.CREATE_NEW_PROCESS_GROUP} if os.name == "nt" else {"start_new_session": True}
        )
        try:
            self.proc = subprocess.Popen(
                cmd,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                stdin=subprocess.DEVNULL,
                env=child_env(self.home),
                text=True,
                encoding="utf-8",
                errors="replace",
                bufsize=1,
                **extra,
            )
        except OSError as e:
            self.pump.push(Finished(status="failed", iter=-1, reason=f"Could not start torchrun: {e}."))
            self._done.set()
            self.sig_done.emit()
            return
        readers = [
            threading.Thread(target=self._read_stdout, daemon=True, name="torchrun-stdout"),
            threading.Thread(target=self._read_stderr, daemon=True, name="torchrun-stderr"),
        ]
        for t in readers:
            t.start()
        threading.Thread(target=self._wait_exit, args=(readers,), daemon=True, name="torchrun-wait").start()

    def _read_stdout(self) -> None:
        for line in self.proc.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = event_from_dict(json.loads(line))
            except (ValueError, TypeError):
                self.pump.log(line)  # plain output from a library: show it, do not fail
                continue
            if isinstance(event, Finished):
                self._saw_finished = True
            self.pump.push(event)

    def _read_stderr(self) -> None:
        for line in self.proc.stderr:
            if line.strip():
                self.pump.log(line.rstrip(), "warning")
                if line.startswith(("gptstudio: error", "  - ")) and len(self._errors) < 10:
                    self._errors.append(line.strip())  # the CLI's own plain-words reason

    def _wait_exit(self, readers: list[threading.Thread]) -> None:
        code = self.proc.wait()
        for t in readers:
            t.join(timeout=5)
        if not self._saw_finished:
            if self._stopping:
                reason = "Stopped: the training processes were ended; the last saved checkpoint is kept."
                status = "stopped"
            elif self._errors:
                reason = " ".join(dict.fromkeys(self._errors))  # every rank prints the same problems
                status = "failed"
            else:
                reason = (
                    f"The training processes exited with code {code} before finishing (crashed or killed); "
                    "see the log above. The last saved checkpoint is kept: Resume continues from it."
                )
                status = "failed"
            self.pump.log(reason, "error" if status == "failed" else "info")
            self.pump.push(Finished(status=status, iter=-1, reason=reason))
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
        self._done.set()
        self.sig_done.emit()

    def stop(self) -> None:
        """Graceful: write STOP (rank 0 saves, all exit); end the process tree if it lingers."""
        if self.proc is None or self._done.is_set() or self._stopping:
            return
        self._stopping = True
        try:
            self.stop_file.parent.mkdir(parents=True, exist_ok=True)
            self.stop_file.write_text("stop requested by GPT Studio\n", encoding="utf-8")
        except OSError as e:
            self.pump.log(f"Could not write the stop file ({e}); ending the processes instead.", "warning")
            self.kill()
            return
        threading.Thread(target=self._escalate, daemon=True, name="torchrun-stop").start()

    def _escalate(self) -> None:
        if not self._done.wait(self.grace_s):
            self.pump.log(f"The training processes did not stop within {self.grace_s:.0f} s; ending them.", "warning")
            self.kill()

    def kill(self, timeout: float = 5.0) -> None:
        """SIGTERM to torchrun and every rank, SIGKILL to whatever is left after `timeout`."""
        self._stopping = True
        if self.proc is None or self._done.is_set():
            return
        children = signal_tree(self.proc.pid)
        # the waiter thread reaps torchrun itself (reaping it here would lose its exit code)
        _gone, alive = psutil.wait_procs(children, timeout=timeout)
        if not self._done.wait(timeout) or alive:
            signal_tree(self.proc.pid, kill=True)
            for p in alive:
                with contextlib.suppress(psutil.NoSuchProcess):
                    p.kill()

    def is_running(self) -> bool:
        return self.proc is not None and not self._done.is_set()

    def wait(self, timeout_ms: int) -> bool:
        return self._done.wait(max(0, timeout_ms) / 1000)
