"""Training as a job: in this process, or as a torchrun child whose JSON lines are read back.

Both jobs are plain functions, `fn(..., report=, cancel=) -> Finished`, for the GUI's job runner
(or any caller). Whatever happens, `report` receives the run's events and exactly one Finished,
last, and the function returns that Finished; setting `cancel` stops the run with a checkpoint.

Read top to bottom:
  failure_events      the events that say why a run ended with an exception
  FinishedOnce        a report callback that passes exactly one Finished
  train_here          resume settings + trainer.train in this process
  torchrun_command    the torchrun command line (one machine, or one line per machine)
  multinode_commands  copyable shell lines, one per machine
  child_env           the environment of a `python -m gptstudio` child
  signal_tree         terminate or kill a process and its children
  train_with_torchrun run `torchrun ... gptstudio train --jsonl` and turn its stdout into events;
                      cancel writes the run's STOP file, the processes are ended after a grace period

The child's side of the protocol is `gptstudio train --jsonl` (commands/train.py); it is written
down in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
import os
import queue
import shlex
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil

import gptstudio
from gptstudio.core.config import TrainConfig, save_config
from gptstudio.core.errors import Cancelled, ConfigError, GPTStudioError
from gptstudio.core.events import Event, Finished, Message, SettingsProblem, event_from_dict
from gptstudio.core.failures import is_out_of_memory, readable_failure
from gptstudio.core.runs import STOP_FILE

STOP_GRACE_S = 30.0  # how long a torchrun child may take to save and exit after STOP
KILL_AFTER_S = 5.0  # after terminating the processes, how long before they are killed
NOT_STARTED = "The settings have problems; nothing was started"


def failure_events(exc: BaseException) -> list[Event]:
    """The events that end a run stopped by `exc`: one SettingsProblem per problem when the settings
    kept it from starting, then Finished(failed) with one readable reason."""
    if isinstance(exc, Cancelled):
        return [Finished("stopped", -1, str(exc))]
    if isinstance(exc, ConfigError):
        problems: list[Event] = [SettingsProblem(p.message, list(p.fields), p.code) for p in exc.problems]
        return [*problems, Finished("failed", -1, f"{NOT_STARTED}: {exc}")]
    return [Finished("failed", -1, readable_failure(exc, then="the last checkpoint is kept"))]


def is_bug(exc: BaseException) -> bool:
    """An exception no user can fix by changing settings: worth a traceback in the log."""
    return not isinstance(exc, (GPTStudioError, KeyboardInterrupt)) and not is_out_of_memory(exc)


class FinishedOnce:
    """A report callback that passes events on, lets exactly one Finished through and remembers it,
    so whoever runs a job can add the Finished when the run could not."""

    def __init__(self, report: Callable[[Event], None] | None):
        self.report = report or (lambda _event: None)
        self.finished: Finished | None = None

    def __call__(self, event: Event) -> None:
        if isinstance(event, Finished):
            if self.finished is not None:
                return  # exactly one Finished per run
            self.finished = event
        self.report(event)

    def end(self, fallback: Finished) -> Finished:
        if self.finished is None:
            self(fallback)
        return self.finished or fallback


# ----- in this process -----


def train_here(
    config: TrainConfig,
    *,
    home=None,
    overrides: dict | None = None,
    report=None,
    cancel: threading.Event | None = None,
) -> Finished:
    """Train `config` in this thread. A resume (init_from="resume") reads the run's saved settings
    first, with `overrides` on top. Exceptions become failure_events; a bug is re-raised after them,
    so the caller logs its traceback."""
    from gptstudio.core import trainer  # torch: imported by the job's thread, not at start-up

    reporter = FinishedOnce(report)
    try:
        if config.init_from == "resume":
            config = trainer.resume_config(config.run_name, overrides or {}, home=home)
        return reporter.end(trainer.train(config, home=home, report=reporter, cancel=cancel))
    except BaseException as e:
        for event in failure_events(e):
            reporter(event)
        if is_bug(e):
            raise
        return reporter.end(Finished("failed", -1, readable_failure(e)))  # (failure_events sent it)


# ----- as a torchrun child -----


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


def child_env(home: Path) -> dict:
    """Environment for a child `python -m gptstudio`: finds this package and flushes every line."""
    env = dict(os.environ)
    package_root = str(Path(gptstudio.__file__).resolve().parent.parent)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    env["PYTHONUNBUFFERED"] = "1"
    env["GPTSTUDIO_HOME"] = str(home)
    return env


def signal_tree(pid: int, kill: bool = False) -> list[psutil.Process]:
    """Terminate (or kill) a process and all its children (torchrun's ranks); return the children."""
    try:
        parent = psutil.Process(pid)
        children = parent.children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for p in [*children, parent]:
        try:
            p.kill() if kill else p.terminate()
        except psutil.NoSuchProcess:
            pass
    return children


def train_with_torchrun(
    config: TrainConfig,
    *,
    home,
    nproc: int,
    overrides: dict | None = None,
    grace_s: float = STOP_GRACE_S,
    report=None,
    cancel: threading.Event | None = None,
) -> Finished:
    """Train `config` with `nproc` processes under torchrun, in a child process group.

    The child's JSON lines become events; any other output becomes Message events (stderr ones
    as warnings), shown but never interpreted. `cancel` writes the run's STOP file (rank 0 saves a
    checkpoint and every rank exits); processes still alive after `grace_s` are terminated, then
    killed. A child that ends without its Finished event is reported as stopped (when cancelled)
    or failed, with its exit code. `report` is called from this function's thread only."""
    reporter = FinishedOnce(report)
    home, cancel = Path(home), cancel or threading.Event()
    resume = config.init_from == "resume"
    with tempfile.TemporaryDirectory(prefix="gptstudio-torchrun-") as tmp:
        config_path = Path(tmp) / "config.json"
        if resume:
            config_path.write_text(json.dumps(overrides or {}), encoding="utf-8")
        else:
            save_config(config, config_path)
        cmd = torchrun_command(str(config_path), config.run_name, nproc, home, resume=resume)
        reporter(Message("Starting: " + shlex.join(cmd)))
        try:
            child = _Child(cmd, home)
        except OSError as e:
            return reporter.end(Finished("failed", -1, f"Could not start torchrun: {e}."))
        stop = _Stopper(child, home / "runs" / config.run_name / STOP_FILE, grace_s, reporter)
        code = child.follow(reporter, lambda: stop.check(cancel))
    if reporter.finished is not None:
        return reporter.finished
    if stop.requested:
        reason = "Stopped: the training processes were ended; the last saved checkpoint is kept."
        reporter(Message(reason))
        return reporter.end(Finished("stopped", -1, reason))
    reason = (
        f"The training processes exited with code {code} before finishing (crashed or killed); "
        "see the log above. The last saved checkpoint is kept: Resume continues from it."
    )
    reporter(Message(reason, "error"))
    return reporter.end(Finished("failed", -1, reason))


class _Child:
    """The torchrun process (in a group of its own, so it and its ranks can be ended together)."""

    def __init__(self, cmd: list[str], home: Path):
        new_group = getattr(subprocess, "CREATE_NEW_PROCESS_GROUP", 0)  # Windows only
        session: dict = {"creationflags": new_group} if os.name == "nt" else {"start_new_session": True}
        self.proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            stdin=subprocess.DEVNULL,
            env=child_env(home),
            text=True,
            encoding="utf-8",
            errors="replace",
            bufsize=1,
            **session,
        )
        self.ranks: list[psutil.Process] = []  # its children, as last seen

    def follow(self, report: Callable[[Event], None], tick: Callable[[], None]) -> int:
        """Report its output until it has exited (calling `tick` ~10 times a second); its exit code."""
        lines: queue.Queue[tuple[str, str | None]] = queue.Queue()
        for name, stream in (("stdout", self.proc.stdout), ("stderr", self.proc.stderr)):
            threading.Thread(target=_read_lines, args=(name, stream, lines), daemon=True).start()
        open_streams, looked, exited_at = 2, 0.0, 0.0
        while open_streams:
            try:
                name, line = lines.get(timeout=0.1)
                if line is None:
                    open_streams -= 1
                else:
                    report(_event_of(line) if name == "stdout" else Message(line, "warning"))
            except queue.Empty:
                pass
            tick()
            now = time.monotonic()
            if self.proc.poll() is None:
                if now - looked > 1.0:
                    self.ranks, looked = _children(self.proc.pid), now
            elif not exited_at:
                exited_at = now
            elif now - exited_at > KILL_AFTER_S:
                break  # ranks orphaned by a killed torchrun hold the pipes open: ended below
        code = self.proc.wait()
        for rank in self.ranks:  # no rank outlives torchrun
            try:
                rank.kill()
            except psutil.NoSuchProcess:
                pass
        return code


class _Stopper:
    """Cancel → STOP file; after the grace period → terminate the tree; after KILL_AFTER_S more → kill."""

    def __init__(self, child: _Child, stop_file: Path, grace_s: float, report):
        self.child, self.stop_file, self.grace_s, self.report = child, stop_file, grace_s, report
        self.requested = False
        self.terminate_at = self.kill_at = 0.0
        self.why = f"The training processes did not stop within {grace_s:g} s; ending them."

    def check(self, cancel: threading.Event) -> None:
        if not cancel.is_set() or self.child.proc.poll() is not None:
            return
        now = time.monotonic()
        if not self.requested:
            self.requested = True
            self.terminate_at = now + self.grace_s
            try:
                self.stop_file.parent.mkdir(parents=True, exist_ok=True)
                self.stop_file.write_text("stop requested by GPT Studio\n", encoding="utf-8")
            except OSError as e:
                self.why = f"Could not write the stop file ({e}); ending the processes instead."
                self.terminate_at = now
        if self.terminate_at and now >= self.terminate_at:
            self.report(Message(self.why, "warning"))
            self.child.ranks = signal_tree(self.child.proc.pid) or self.child.ranks
            self.terminate_at, self.kill_at = 0.0, now + KILL_AFTER_S
        elif self.kill_at and now >= self.kill_at:
            signal_tree(self.child.proc.pid, kill=True)
            self.kill_at = 0.0


def _read_lines(name: str, stream, lines: queue.Queue) -> None:
    for line in stream:
        if line.strip():
            lines.put((name, line.rstrip()))
    lines.put((name, None))


def _event_of(line: str) -> Event:
    """A JSON line of the child as its event; any other line (a library's print) as a log line."""
    try:
        return event_from_dict(json.loads(line))
    except (ValueError, TypeError, AttributeError):
        return Message(line.strip())


def _children(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
