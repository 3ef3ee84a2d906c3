"""`gptstudio --self-test`: prove an installation (or a desktop bundle) works, end to end, offscreen.

Creates the main window, imports every module of the package, prepares the bundled demo text, trains a
tiny model for 20 iterations, samples from it, and exits 0 — in a temporary workspace, so the user's own
data is never touched. Times are counted from the start of the process, so the window line gives the
start-up time (what packaging/build_bundle.sh reports for a bundle).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

SELF_TEST_SETTINGS = dict(
    n_layer=2,
    n_head=2,
    n_embd=32,
    block_size=32,
    batch_size=8,
    dropout=0.0,
    max_iters=20,
    lr_decay_iters=20,
    warmup_iters=2,
    learning_rate=3e-3,
    min_lr=3e-4,
    eval_interval=10,
    eval_iters=2,
    eval_sample_tokens=0,
    log_interval=5,
    compile=False,
    device="cpu",
    dtype="float32",
)


def seconds_since_start() -> float:
    """How long this process has run, its launcher and imports included."""
    try:  # Linux: the start time in clock ticks since boot, to 10 ms
        started = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        return time.clock_gettime(time.CLOCK_BOOTTIME) - started / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        import psutil

        return time.time() - psutil.Process().create_time()


def import_every_module() -> int:
    """Import each module of the package, so that a missing dependency (or a file a bundle left out) fails
    here rather than when someone first opens that feature; returns how many."""
    import importlib
    import pkgutil

    import gptstudio

    def fail(name: str) -> None:
        raise ImportError(f"cannot import {name}")

    names = [m.name for m in pkgutil.walk_packages(gptstudio.__path__, "gptstudio.", onerror=fail)]
    for name in names:
        if not name.endswith(".__main__"):  # running it would start the command line
            importlib.import_module(name)
    return len(names)


def run_self_test(out=sys.stdout) -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

    def say(text: str) -> None:
        print(f"[{seconds_since_start():5.1f}s] {text}", file=out, flush=True)

    with tempfile.TemporaryDirectory(prefix="gptstudio-selftest-") as tmp:
        home = Path(tmp)
        os.environ["GPTSTUDIO_CONFIG_DIR"] = str(home / "config")  # leave the user's preferences alone
        try:
            from gptstudio.gui import create_main_window
            from gptstudio.gui.app import make_application

            app = make_application()
            window = create_main_window(home)
            window.show()
            app.processEvents()
            tabs = window.findChild(type(window.centralWidget()), "mainTabs")
            say(f"first window: {window.windowTitle()!r} with {tabs.count()} tabs")
            say(f"imported all {import_every_module()} modules of gptstudio")

            from gptstudio.core.dataset import demo_text_path, prepare_dataset

            meta = prepare_dataset([demo_text_path()], "selftest", "char", home=home)
            say(
                f"prepared demo text: {meta['train_tokens']:,} train / {meta['val_tokens']:,} val tokens, "
                f"vocab {meta['vocab_size']}"
            )

            from gptstudio.core.config import TrainConfig
            from gptstudio.core.trainer import train

            done = train(TrainConfig(dataset="selftest", run_name="selftest", **SELF_TEST_SETTINGS), home=home)
            if done.status != "completed":
                raise RuntimeError(f"training {done.status}: {done.reason}")
            say(f"trained {done.iter} iterations, val loss {done.best_val_loss:.3f}")

            from gptstudio.core.sampler import Sampler, SampleSettings

            sampler = Sampler.from_run("selftest", home=home, device="cpu")
            text = sampler.generate("ROMEO:", SampleSettings(max_new_tokens=40, seed=1))[0]
            if not text:
                raise RuntimeError("the sampler produced no text")
            say(f"sampled: {('ROMEO:' + text)[:60]!r}")
            window.close()
            app.processEvents()
        except Exception as e:  # the self-test reports any failure as a failed check
            print(f"gptstudio self-test FAILED: {type(e).__name__}: {e}", file=sys.stderr)
            return 1
    say("self-test passed")
    return 0
