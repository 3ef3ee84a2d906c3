"""What Start checks before a new run begins (no Qt): the settings, the processes, the run's name."""

from __future__ import annotations

from gptstudio.core.config import TrainConfig
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.workspace import Workspace


def start_problems(cfg: TrainConfig, nproc: int = 0) -> list[str]:
    """Why `cfg` cannot start with `nproc` torchrun processes (0: in this process); [] when it can."""
    problems = [str(p) for p in cfg.validate()]
    if nproc and cfg.gradient_accumulation_steps % nproc:
        # nanoGPT's rule: the accumulation steps are shared out among the processes
        problems.append(
            f"gradient_accumulation_steps ({cfg.gradient_accumulation_steps}) must be a multiple "
            f"of the number of processes ({nproc}): change one of them."
        )
    return problems


def suggested_name(workspace: Workspace, cfg: TrainConfig) -> str:
    """A free run name that says what the run is: dataset, layers x width."""
    return workspace.unique_run_name(f"{cfg.dataset or 'run'}-{cfg.n_layer}x{cfg.n_embd}")


def name_problem(workspace: Workspace, name: str) -> str | None:
    """Why a new run cannot take this name (not a valid folder name, or taken); None when it can."""
    try:
        taken = workspace.run_dir(name).exists()
    except GPTStudioError as e:
        return str(e)
    if taken:
        return f"A run named '{name}' already exists: choose another name, or select it in the list and press Resume."
    return None
