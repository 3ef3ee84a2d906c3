"""The installed package passes its self-test; the desktop bundle's plan (which torch, what goes in) is right;
and, slow and opt-in, the bundle builds in a fresh environment and passes the self-test too."""

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGING = REPO / "packaging"


def load_bundle_plan():
    spec = importlib.util.spec_from_file_location("bundle_plan", PACKAGING / "bundle_plan.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["bundle_plan"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


plan = load_bundle_plan()
TorchBuild = plan.TorchBuild
CPU = TorchBuild("2.13.0+cpu")
CUDA = TorchBuild("2.14.1", cuda="13.0")


def self_test_env(tmp_path):
    return {**os.environ, "QT_QPA_PLATFORM": "offscreen", "GPTSTUDIO_HOME": str(tmp_path / "user-home")}


def test_installed_package_self_test(tmp_path):
    exe = shutil.which("gptstudio")
    cmd = [exe] if exe else [sys.executable, "-m", "gptstudio"]
    res = subprocess.run(
        cmd + ["--self-test"], env=self_test_env(tmp_path), capture_output=True, text=True, timeout=300, cwd=tmp_path
    )
    assert res.returncode == 0, res.stderr[-3000:]
    assert "self-test passed" in res.stdout and "trained 20 iterations" in res.stdout
    assert re.search(r"^\[ *\d+\.\ds\] first window: 'GPT Studio' with 4 tabs$", res.stdout, re.M), res.stdout
    assert re.search(r"imported all \d+ modules of gptstudio", res.stdout)
    # the user's workspace was not touched
    assert not (tmp_path / "user-home" / "runs").exists()


def test_version_and_help_list_every_subcommand():
    from gptstudio import __version__
    from gptstudio.cli import COMMAND_MODULES

    out = subprocess.run([sys.executable, "-m", "gptstudio", "--version"], capture_output=True, text=True)
    assert out.stdout.strip() == f"gptstudio {__version__}"
    help_text = subprocess.run([sys.executable, "-m", "gptstudio", "--help"], capture_output=True, text=True).stdout
    for command in (
        "prepare",
        "import-nanogpt-data",
        "datasets",
        "train",
        "runs",
        "import-nanogpt-run",
        "sample",
        "export",
    ):
        assert command in help_text, command
    for option in ("--self-test", "--install-desktop", "--uninstall-desktop"):
        assert option in help_text
    assert len(COMMAND_MODULES) >= 5


SHIPPED = ["demo_shakespeare.txt", "gptstudio.desktop", "icons/gptstudio.svg"] + [
    f"icons/gptstudio-{size}.png" for size in (16, 32, 48, 64, 128, 256, 512)
]


def test_desktop_file_and_icons_exist():
    from gptstudio.core.resources import resource_path

    desktop = resource_path("gptstudio.desktop").read_text()
    assert "Exec=gptstudio" in desktop and "Icon=gptstudio" in desktop
    for name in SHIPPED:
        assert (REPO / "resources" / name).is_file(), name  # the card's layout: resources/ at the top
        assert resource_path(*name.split("/")).is_file(), name


def test_missing_resource_names_the_fix():
    from gptstudio.core.errors import GPTStudioError
    from gptstudio.core.resources import resource_path

    with pytest.raises(GPTStudioError, match="reinstall GPT Studio"):
        resource_path("no-such-file.txt")


def source_packages() -> list[str]:
    return sorted(".".join(p.parent.relative_to(REPO).parts) for p in (REPO / "gptstudio").rglob("__init__.py"))


def test_pyproject_lists_every_package():
    """setuptools installs only the packages pyproject.toml lists (a list, so that resources/ can be mapped
    into the package): a new subpackage must be added there, or wheels and bundles lack it."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib

    listed = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]
    missing = [p for p in source_packages() if p not in listed]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"


def test_wheel_holds_every_package_and_the_resources(tmp_path):
    """A wheel built offline from this checkout installs resources/ inside the package, holds every
    package of the source tree, and the installed copy finds its resources there."""
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in ("gptstudio", "resources"):
        shutil.copytree(REPO / name, src / name, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(tmp_path), "."],
        cwd=src,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    (wheel,) = tmp_path.glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "installed")
    for name in SHIPPED:
        assert f"gptstudio/resources/{name}" in names, name
    missing = [p for p in source_packages() if f"{p.replace('.', '/')}/__init__.py" not in names]
    assert not missing, f"add {missing} to [tool.setuptools] packages in pyproject.toml"

    probe = "from gptstudio.core.resources import resource_path; print(resource_path('demo_shakespeare.txt'))"
    out = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "PYTHONPATH": str(tmp_path / "installed")},
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr
    assert Path(out.stdout.strip()) == tmp_path / "installed" / "gptstudio" / "resources" / "demo_shakespeare.txt"


# ----- which torch, which bundle -----


def test_the_bundle_is_what_the_installed_torch_makes():
    assert plan.bundle_flavour(CPU) == "cpu" and plan.bundle_flavour(CPU, "cpu") == "cpu"
    assert plan.bundle_flavour(CUDA) == "cuda" and plan.bundle_flavour(CUDA, "cuda") == "cuda"


def test_a_cpu_bundle_from_a_cuda_torch_is_refused_with_the_way_to_get_one():
    with pytest.raises(plan.BundleRefused) as refused:
        plan.bundle_flavour(CUDA, "cpu")
    message = str(refused.value)
    assert "torch 2.14.1 (cuda build, CUDA 13.0)" in message and "cannot make a CPU bundle" in message
    assert "bash packaging/build_bundle.sh --cpu" in message  # the script makes the environment itself
    assert "pip install torch --index-url https://download.pytorch.org/whl/cpu" in message  # or by hand
    with pytest.raises(plan.BundleRefused, match=r"build_bundle.sh --cuda"):
        plan.bundle_flavour(CPU, "cuda")


@pytest.mark.parametrize(
    ("current", "wanted", "args"),
    [
        # the same torch as here, from where it came
        (CPU, "auto", ["torch==2.13.0+cpu", "--index-url", "https://download.pytorch.org/whl/cpu"]),
        (CUDA, "auto", ["torch==2.14.1"]),
        (
            TorchBuild("2.6.0+cu126", cuda="12.6"),
            "auto",
            ["torch==2.6.0+cu126", "--index-url", f"{plan.PYTORCH_INDEX}/cu126"],
        ),
        # the same version, the other build
        (CUDA, "cpu", ["torch==2.14.1+cpu", "--index-url", "https://download.pytorch.org/whl/cpu"]),
        (CPU, "cuda", ["torch==2.13.0"]),
        # no torch here: what `pip install .` brings, or the newest CPU build
        (None, "auto", ["torch"]),
        (None, "cpu", ["torch", "--index-url", "https://download.pytorch.org/whl/cpu"]),
    ],
)
def test_the_fresh_environment_gets_the_wanted_torch(current, wanted, args):
    assert plan.pip_torch_args(current, wanted) == args


def test_an_explicit_torch_requirement_comes_from_its_index():
    assert plan.pip_torch_args(CUDA, "cpu", "torch==2.13.0+cpu") == [
        "torch==2.13.0+cpu",
        "--index-url",
        "https://download.pytorch.org/whl/cpu",
    ]


def test_the_build_script_gets_its_answers_from_the_command_line_of_the_plan():
    def ask(*args):
        out = subprocess.run([sys.executable, str(PACKAGING / "bundle_plan.py"), *args], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        return out.stdout.split()

    here = plan.installed_torch()
    assert ask("torch") == [here.version, here.flavour]
    assert ask("pip-torch", "auto", "") == plan.pip_torch_args(here, "auto")  # build_bundle.sh passes "" for none
    assert ask("pip-torch", "cpu", "torch==2.13.0+cpu") == plan.pip_torch_args(here, "cpu", "torch==2.13.0+cpu")
    assert ask("size", str(PACKAGING))[-2:] == [f"({plan.bundle_size(PACKAGING):,}", "bytes)"]


# ----- what goes in -----


def test_lean_rules_leave_out_tests_headers_and_static_libraries_only():
    for left_out in (
        "torch/test/c10_Synchronized_test",
        "torch/bin/test_api",
        "torch/bin/protoc",
        "torch/lib/libtorchbind_test.so",
        "torch/include/ATen/Tensor.h",
        "nvidia/cu13/include/cublas.h",
        "nvidia/cuda_runtime/lib/libcudart_static.a",
        "PySide6/Qt/translations/qtbase_fr.qm",
    ):
        assert plan.dropped(left_out), left_out
    for kept in (
        "torch/lib/libtorch_cpu.so",
        "torch/lib/libtorch_cuda.so",
        "torch/bin/torch_shm_manager",
        "nvidia/cudnn/lib/libcudnn.so.9",
        "nvidia/cudnn/lib/libcudnn_engines_precompiled.so.9",
        "PySide6/Qt/plugins/platforms/libqxcb.so",
        "gptstudio/resources/demo_shakespeare.txt",
    ):
        assert not plan.dropped(kept), kept


def test_runtime_and_test_only_packages_come_from_pyproject():
    runtime = plan.runtime_requirements()
    assert {"torch", "numpy", "PySide6-Essentials", "pyqtgraph"} <= set(runtime)
    test_only = plan.test_only_distributions()
    assert {"pytest", "transformers", "hypothesis", "ruff", "pyinstaller"} <= test_only
    assert not test_only & {plan.canonical_name(name) for name in runtime}


def test_every_native_library_of_torch_is_found_where_torch_looks_for_it():
    libs = plan.native_libraries(plan.requirement_closure(["torch"]))
    assert "torch/lib/libc10.so" in libs and libs["torch/lib/libc10.so"].is_file()
    assert all(re.search(r"(^|/)lib[^/]*\.so(\.\d+)*$", place) for place in libs)


@pytest.mark.skipif(not plan.can_strip(), reason="needs binutils (strip, readelf) on Linux")
def test_libraries_lose_symbols_and_debug_information_only_where_it_pays(tmp_path, monkeypatch):
    import torch

    library = Path(torch.__file__).parent / "lib" / "libc10.so"
    assert plan.segments_aligned(library)
    monkeypatch.setattr(plan, "STRIP_AT_LEAST", 2**40)
    assert plan.stripped_copy(library, tmp_path / "a.so") == library  # saves too little to touch it
    monkeypatch.setattr(plan, "STRIP_AT_LEAST", 1)
    if plan.strippable_bytes(library) < 1:
        pytest.skip("this torch's libc10.so is stripped already")
    copy = plan.stripped_copy(library, tmp_path / "b.so")
    assert copy == tmp_path / "b.so" and copy.stat().st_size < library.stat().st_size
    assert plan.segments_aligned(copy) and plan.strippable_bytes(copy) == 0
    assert plan.stripped_copy(library, tmp_path / "b.so") == copy  # made once per build folder

    # GNU strip breaks the layout of libraries that auditwheel patched (numpy's OpenBLAS): those stay whole
    import numpy

    for patched in (Path(numpy.__file__).parent.parent / "numpy.libs").glob("libscipy_openblas*.so"):
        assert plan.stripped_copy(patched, tmp_path / patched.name) == patched


def test_a_library_the_environment_has_but_the_bundle_lacks_is_an_error(tmp_path):
    env = tmp_path / "site-packages"
    (env / "nvidia/cudnn/lib").mkdir(parents=True)
    (env / "nvidia/cudnn/lib/libcudnn.so.9").write_bytes(b"")
    missing = {"libcudnn.so.9": ["_internal/torch/lib/libtorch_cuda.so"], "libxcb-icccm.so.4": ["_internal/x.so"]}
    lost, system = plan.split_unresolved(missing, env)
    assert list(lost) == ["libcudnn.so.9"] and list(system) == ["libxcb-icccm.so.4"]


def test_the_bundle_entry_point_runs_modules_like_python(tmp_path):
    """torchrun starts `<program> -m torch.distributed.run ...` and its ranks `<program> -u -m gptstudio ...`."""
    entry = [sys.executable, str(PACKAGING / "gptstudio_entry.py")]
    from gptstudio import __version__

    for args in (["--version"], ["-m", "gptstudio", "--version"], ["-u", "-m", "gptstudio", "--version"]):
        out = subprocess.run(entry + args, capture_output=True, text=True, cwd=tmp_path)
        assert out.returncode == 0 and out.stdout.strip() == f"gptstudio {__version__}", (args, out.stderr)


# ----- the bundle itself (slow, opt-in: .ci/bundle) -----


@pytest.mark.slow
def test_bundle_builds_in_a_fresh_environment_and_passes_its_self_test(tmp_path):
    """bash packaging/build_bundle.sh (minutes, GBs): GPTSTUDIO_BUNDLE_TORCH=cpu|cuda picks the torch, the
    default is the one python3 has. Then what is in the bundle, its menu entry, and torchrun inside it."""
    wanted = os.environ.get("GPTSTUDIO_BUNDLE_TORCH", "auto")
    dist = tmp_path / "dist"
    cmd = ["bash", str(PACKAGING / "build_bundle.sh"), "--dist", str(dist), "--work", str(tmp_path / "work")]
    res = subprocess.run(cmd + ([f"--{wanted}"] if wanted != "auto" else []), capture_output=True, text=True)
    print(res.stdout[-6000:])
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert "self-test passed" in res.stdout and "bundle ready" in res.stdout
    summary = re.search(r"(\w+) bundle with torch \S+: ([\d.]+) (MiB|GiB) .*first window after ([\d.]+) s", res.stdout)
    assert summary, res.stdout[-2000:]

    bundle = dist / "GPTStudio"
    inside = bundle / "_internal"
    assert not (inside / "torch" / "test").exists() and not (inside / "torch" / "include").exists()
    assert [p.name for p in (inside / "torch" / "bin").iterdir()] == ["torch_shm_manager"]
    files = [p.relative_to(inside).as_posix() for p in inside.rglob("*")]
    assert not [f for f in files if f.endswith((".a", ".h", ".hpp")) or re.search(r"Qt6(WebEngine|3D|Multimedia)", f)]
    assert not {"transformers", "tensorboard", "wandb", "triton", "pytest", "PyInstaller"} & {
        f.split("/")[0] for f in files
    }
    if summary[1] == "cuda":  # what the previous spec dropped, and torch cannot start without
        names = {Path(f).name.split(".so")[0] for f in files if ".so" in f}
        assert {"libtorch_cuda", "libcudnn", "libcublas", "libcublasLt", "libnccl"} <= names
    if summary[1] == "cpu":
        size = plan.bundle_size(bundle)
        assert size < 700e6, f"the CPU bundle is {size / 1e6:.0f} MB, over the 700 MB target"

    # the launcher entry points at the bundle
    xdg = tmp_path / "xdg"
    env = {**os.environ, "XDG_DATA_HOME": str(xdg)}
    added = subprocess.run([str(bundle / "GPTStudio"), "--install-desktop"], env=env, capture_output=True, text=True)
    assert added.returncode == 0, added.stderr
    entry = (xdg / "applications" / "gptstudio.desktop").read_text()
    assert f"\nExec={bundle / 'GPTStudio'}\n" in entry
    if shutil.which("desktop-file-validate"):
        subprocess.run(["desktop-file-validate", str(xdg / "applications" / "gptstudio.desktop")], check=True)

    # torchrun inside the bundle: two ranks train a few iterations, as the Training tab's "Several processes"
    home = tmp_path / "home"
    run = [str(bundle / "GPTStudio"), "--home", str(home)]
    demo = REPO / "resources" / "demo_shakespeare.txt"
    subprocess.run([*run, "prepare", str(demo), "--name", "demo", "--tokenizer", "char"], check=True, timeout=300)
    tiny = "--n_layer=1 --n_head=2 --n_embd=16 --block_size=16 --batch_size=4 --gradient_accumulation_steps=2"
    tiny += " --max_iters=4 --eval_interval=2 --eval_iters=1 --device=cpu --compile=False --backend=gloo"
    torchrun = [str(bundle / "GPTStudio"), "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    trained = subprocess.run(
        [
            *torchrun,
            "-m",
            "gptstudio",
            "--home",
            str(home),
            "train",
            "--dataset",
            "demo",
            "--name",
            "ddp",
            *tiny.split(),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert trained.returncode == 0, trained.stdout[-2000:] + trained.stderr[-3000:]
    assert (home / "runs" / "ddp" / "ckpt.pt").is_file()

    # the OpenAI-compatible server (FastAPI and uvicorn load parts by name) answers from inside the bundle
    server = subprocess.Popen(
        [*run, "serve", "ddp", "--port", "0", "--device", "cpu"], stdout=subprocess.PIPE, text=True
    )
    try:
        url = next(found[1] for line in server.stdout if (found := re.search(r" at (http://\S+/v1)", line)))
        assert [m["id"] for m in json.load(urllib.request.urlopen(f"{url}/models", timeout=60))["data"]] == ["ddp"]
        ask = {"model": "ddp", "prompt": "ROMEO:", "max_tokens": 5}
        request = urllib.request.Request(
            f"{url}/completions", json.dumps(ask).encode(), {"Content-Type": "application/json"}
        )
        assert isinstance(json.load(urllib.request.urlopen(request, timeout=120))["choices"][0]["text"], str)
    finally:
        server.terminate()
        server.wait(timeout=60)
