"""RunStatus: what the status lines under the Run buttons say, from a run's events (no Qt).

Run tiny-1x32: training…
iteration 120 / 2000 (6%)
loss 1.9876 (smoothed 2.0123) · lr 9.80e-04
elapsed 0:14 · ETA 3:40 · 21.3k tokens/s · MFU 1.2% · 11.8 ms/iter
device cpu (float32) · 0.21M parameters
best val loss 2.0456 (1.3210 bits per byte)
"""

from __future__ import annotations

import math

from gptstudio.core.events import Eval, Finished, RunStarted, Step
from gptstudio.core.units import format_duration, format_rate


class RunStatus:
    def __init__(self):
        self.reset()

    def reset(self, outcome: str = "", best_val: float | None = None, best_bpb: float | None = None) -> None:
        """Start over: empty for a new run, or the one-line summary of a past run."""
        self.started: RunStarted | None = None
        self.last_step: Step | None = None
        self.iter: int | None = None
        self.best_val = best_val
        self.best_bpb = best_bpb
        self.outcome = outcome

    def summarise(self, name: str, run: dict) -> None:
        """A past run, from what list_runs says of it (status.json)."""
        it, max_iters = run.get("iter"), run.get("max_iters")
        where = f" at iteration {it}" + (f" / {max_iters}" if max_iters else "") if it is not None else ""
        reason = f" {run['reason']}" if run.get("reason") else ""
        outcome = f"Run {name}: {run.get('status', 'unknown')}{where}.{reason}"
        self.reset(outcome, run.get("best_val_loss"), run.get("best_val_bpb"))

    # ----- events

    def on_started(self, ev: RunStarted) -> None:
        self.started = ev

    def on_steps(self, steps: list[Step]) -> None:
        self.last_step = steps[-1]
        self.iter = steps[-1].iter

    def on_eval(self, ev: Eval) -> None:
        if ev.best_val_loss is not None and math.isfinite(ev.best_val_loss):  # JSON turns inf into None
            self.best_val = ev.best_val_loss
            if ev.val_bpb is not None and ev.val_loss:  # bits per byte are the loss times a constant
                self.best_bpb = ev.best_val_loss * ev.val_bpb / ev.val_loss

    def on_finished(self, ev: Finished, run: str) -> str:
        """Note the end of the run; returns the sentence that says how it ended."""
        if ev.iter >= 0:
            self.iter = ev.iter
        if ev.best_val_loss is not None:
            self.best_val = ev.best_val_loss
        if ev.best_val_bpb is not None:
            self.best_bpb = ev.best_val_bpb
        if self.iter is None and self.started is not None:
            self.iter = self.started.start_iter
        where = f" at iteration {self.iter}" if self.iter is not None else ""  # (none: it never started)
        self.outcome = f"Run {run} {ev.status}{where}." + (f" {ev.reason}" if ev.reason else "")
        return self.outcome

    # ----- reading

    def progress(self) -> tuple[int, int] | None:
        """(iteration, max_iters) of the run being shown, when it has started."""
        st = self.started
        if st is None:
            return None
        it = self.iter if self.iter is not None else st.start_iter
        return min(it, st.max_iters), max(1, st.max_iters)

    def text(self, smoothed_loss: float | None = None) -> str:
        st, step = self.started, self.last_step
        lines = [self.outcome] if self.outcome else []
        if st is not None:
            if not self.outcome:
                lines.append(f"Run {st.run}: training…")
            it = self.iter if self.iter is not None else st.start_iter
            pct = 100 * it / st.max_iters if st.max_iters else 100
            lines.append(f"iteration {it} / {st.max_iters} ({pct:.0f}%)")
            if step is not None:
                done = max(1, step.iter - st.start_iter)
                left = (st.max_iters - step.iter) * step.elapsed / done
                eta = "" if self.outcome else f" · ETA {format_duration(left)}"
                mfu = f"MFU {100 * step.mfu:.1f}%" if step.mfu >= 0 else "MFU n/a"
                smooth = f" (smoothed {smoothed_loss:.4f})" if smoothed_loss is not None else ""
                lines.append(f"loss {step.loss:.4f}{smooth} · lr {step.lr:.2e}")
                lines.append(
                    f"elapsed {format_duration(step.elapsed)}{eta} · "
                    f"{format_rate(step.tokens_per_sec)} · {mfu} · {step.ms_per_iter:.1f} ms/iter"
                )
            procs = f" × {st.world_size} processes" if st.world_size > 1 else ""
            lines.append(f"device {st.device} ({st.dtype}){procs} · {st.n_params / 1e6:.2f}M parameters")
        if self.best_val is not None:
            bpb = f" ({self.best_bpb:.4f} bits per byte)" if self.best_bpb is not None else ""
            lines.append(f"best val loss {self.best_val:.4f}{bpb}")
        return "\n".join(lines)
