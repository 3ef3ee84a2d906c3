"""benchmarks/gpu_check.py, the check of every CUDA path run when a GPU machine is lent: its smoke (every check at
toy size on the CPU) passes, and one check's failure or exception never hides the others' results."""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "benchmarks" / "gpu_check.py"
# what the lent GPU machine's image lacks (benchmarks/README.md): the check must not need it
NOT_ON_THE_GPU_MACHINE = ("fastapi", "uvicorn", "gguf", "openai", "pytest", "pytestqt", "hypothesis")


def load_gpu_check():
    """The script as a module (benchmarks/ is no package)."""
    if "gpu_check" not in sys.modules:
        spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
        sys.modules["gpu_check"] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules["gpu_check"]


def test_smoke_passes_every_check(tmp_path):
    run = (
        "import runpy, sys\n"
        f"for name in {NOT_ON_THE_GPU_MACHINE!r}:\n"
        "    sys.modules[name] = None  # importing it fails, as on the GPU machine\n"
        f"sys.argv = ['gpu_check.py', '--smoke', '--out', {str(tmp_path / 'report')!r}]\n"
        f"runpy.run_path({str(SCRIPT)!r}, run_name='__main__')\n"
    )
    env = dict(os.environ, PYTHONPATH=str(REPO), QT_QPA_PLATFORM="offscreen", OMP_NUM_THREADS="1")
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-c", run], capture_output=True, text=True, env=env, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads((tmp_path / "report" / "gpu_check.json").read_text(encoding="utf-8"))
    names = [c.name for c in load_gpu_check().CHECKS]
    assert report["format"] == 1 and report["mode"] == "smoke"
    assert [c["name"] for c in report["checks"]] == names
    assert {c["name"]: c["status"] for c in report["checks"]} == dict.fromkeys(names, "pass")
    assert report["summary"] == {"pass": len(names), "fail": 0, "error": 0, "skipped": 0}
    assert report["environment"]["device"] == "cpu" and report["seconds"] < time.monotonic() - t0
    memory = next(c for c in report["checks"] if c["name"] == "memory")
    assert 0.85 <= memory["figures"]["worst_ratio"] <= 1.15  # the estimate, against the tensors really allocated
    markdown = (tmp_path / "report" / "gpu_check.md").read_text(encoding="utf-8")
    assert markdown.startswith(f"# GPT Studio GPU check (smoke, CPU): {len(names)} of {len(names)} passed")
    assert all(f"| {name} | pass |" in markdown for name in names)


def test_one_check_never_hides_the_others(tmp_path):
    g = load_gpu_check()

    def raises(ctx):
        raise RuntimeError("the GPU fell off the bus")

    def fails(ctx):
        result = g.Result(table=[["figure"], ["1.7"]])
        result.require(1.7 <= 1.5, "1.7, above 1.5")
        result.require(True, "never said")
        return result.done("never said either")

    checks = [
        g.Check("raises", "An exception", 1, raises),
        g.Check("fails", "A figure beyond its limit", 1, fails),
        g.Check("passes", "All well", 1, lambda ctx: g.Result(figures={"x": float("nan")}).done("all well")),
    ]
    ctx = g.Context(smoke=True, device="cpu", home=tmp_path, deadline=time.monotonic() + 600)
    report = g.Report(tmp_path / "out", True, g.environment("cpu"))
    assert not g.run_checks(checks, ctx, report)
    ctx.deadline = time.monotonic() + g.MIN_START_S / 2  # too little time left to start one
    g.run_checks([g.Check("late", "Too late", 1, lambda ctx: g.Result().done("ran"))], ctx, report)

    saved = json.loads((tmp_path / "out" / "gpu_check.json").read_text(encoding="utf-8"))
    by_name = {c["name"]: c for c in saved["checks"]}
    assert [c["name"] for c in saved["checks"]] == ["raises", "fails", "passes", "late"]
    assert by_name["raises"]["status"] == "error"
    assert by_name["raises"]["reason"] == "Unexpected error: RuntimeError: the GPU fell off the bus"
    assert "RuntimeError" in by_name["raises"]["traceback"]
    assert by_name["fails"]["status"] == "fail" and by_name["fails"]["reason"] == "1.7, above 1.5"
    assert by_name["passes"]["status"] == "pass" and by_name["passes"]["figures"] == {"x": None}  # NaN: null
    assert by_name["late"]["status"] == "skipped"
    assert saved["summary"] == {"pass": 1, "fail": 1, "error": 1, "skipped": 1}
    markdown = (tmp_path / "out" / "gpu_check.md").read_text(encoding="utf-8")
    assert "| raises | error |" in markdown and "the GPU fell off the bus" in markdown
    assert "| figure |\n|---|\n| 1.7 |" in markdown


def test_arguments(capsys):
    g = load_gpu_check()
    assert [c.name for c in g.parse_args(["--out", "x", "--smoke", "--only", "gui, memory"]).checks] == [
        "memory",
        "gui",
    ]
    with pytest.raises(SystemExit) as exit:
        g.parse_args(["--out", "x", "--smoke", "--only", "memroy"])
    assert exit.value.code == 2 and "unknown check 'memroy'" in capsys.readouterr().err
    assert sum(c.budget_s for c in g.CHECKS) < g.BUDGET_S  # the plan fits the 8 minutes
