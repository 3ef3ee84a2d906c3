"""What goes into the desktop bundle, decided from the environment it is built in.

Used by `gptstudio.spec` (PyInstaller), `build_bundle.sh` and the tests. Nothing here is a hand-kept list of
packages that would rot as the app grows: the runtime packages come from pyproject.toml, the kind of bundle from
the installed torch (CPU or CUDA), the native libraries from the files the installed packages ship. What is
written out by hand is only what the app deliberately does without (see NEVER_IMPORTED and DROPPED), each
with its reason.

Run as a script for the build script's questions (stdlib only, so any python3 can answer them):
    python3 packaging/bundle_plan.py torch               # the torch here: "2.13.0+cpu cpu", or "none"
    python3 packaging/bundle_plan.py pip-torch WANTED [REQUIREMENT]  # pip arguments for that torch
    python3 packaging/bundle_plan.py size DIR            # a built bundle's size
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTORCH_INDEX = "https://download.pytorch.org/whl"
FLAVOURS = ("auto", "cpu", "cuda")

# Modules the app never imports although something in the bundle could pull them in, each with its reason.
NEVER_IMPORTED = {
    # optional integrations the trainer imports only when asked to; a bundle cannot pip install them, so it
    # offers neither (the settings say the package is missing) and stays hundreds of MB smaller
    "tensorboard": "optional logging integration, pip install only",
    "wandb": "optional logging integration, pip install only",
    # torch.compile's GPU compiler: compile is off in the bundle (it needs a C compiler and Python headers)
    "triton": "torch.compile only, which the bundle cannot run",
    # Python's own Tk toolkit: the app is Qt
    "tkinter": "the app uses Qt",
}

# Files the installed packages ship that the app never loads (glob patterns on the path inside the bundle).
DROPPED = (
    "torch/test/*",  # torch's C++ unit-test executables
    "torch/bin/*",  # more test executables and protoc (torch_shm_manager is kept, below)
    "torch/lib/*test*.so",  # libraries that only torch's own tests load
    "torch/lib/libbackend_with_compiler.so",
    "torch/lib/libaoti_custom_ops.so",
    "*/include/*",  # C/C++ headers: nothing is compiled against the bundle
    "*.h",
    "*.hpp",
    "*.cuh",
    "*.a",  # static libraries
    "*.lib",
    "*.cmake",
    "PySide6/Qt/translations/*",  # Qt's own translations: the app installs no QTranslator
)
KEPT = ("torch/bin/torch_shm_manager",)  # torch.multiprocessing shares tensors through it


def dropped(dest: str) -> bool:
    """True for a file (its path inside the bundle) that the lean bundle leaves out."""
    dest = dest.replace(os.sep, "/")
    return dest not in KEPT and any(fnmatch.fnmatch(dest, pattern) for pattern in DROPPED)


# ----- the torch this environment has, and the bundle it makes -----


@dataclass(frozen=True)
class TorchBuild:
    version: str  # "2.13.0+cpu", "2.14.1", "2.6.0+cu126"
    cuda: str | None = None  # "13.0" for a CUDA build
    hip: str | None = None  # ROCm builds

    @property
    def flavour(self) -> str:
        return "cuda" if self.cuda else "rocm" if self.hip else "cpu"

    @property
    def base_version(self) -> str:
        return self.version.split("+")[0]

    @property
    def label(self) -> str:
        """The local version label that names the PyTorch index it came from ("cpu", "cu126"), or ""."""
        return self.version.partition("+")[2]

    def describe(self) -> str:
        extra = f", CUDA {self.cuda}" if self.cuda else f", ROCm {self.hip}" if self.hip else ""
        return f"torch {self.version} ({self.flavour} build{extra})"


def installed_torch() -> TorchBuild | None:
    """The torch importable here, or None.

    Its version is the distribution's, as pip knows it: PyPI's CUDA build says "2.14.1" there and
    "2.14.1+cu130" in torch.__version__, which no index has.
    """
    from importlib import metadata

    try:
        import torch
    except ImportError:
        return None
    return TorchBuild(metadata.version("torch"), torch.version.cuda, torch.version.hip)


class BundleRefused(Exception):
    """The bundle asked for cannot be built from this environment; the message says how to get it."""


def bundle_flavour(torch: TorchBuild, wanted: str = "auto") -> str:
    """The kind of bundle this torch makes ("cpu", "cuda" or "rocm"), or BundleRefused when `wanted` differs.

    A CUDA torch cannot make a CPU bundle by dropping its CUDA libraries: torch loads them at import, so such a
    bundle would not even start. The CPU build of torch has to be installed instead, in an environment of its own.
    """
    if wanted not in FLAVOURS:
        raise ValueError(f"wanted must be one of {FLAVOURS}, not {wanted!r}")
    if wanted in ("auto", torch.flavour):
        return torch.flavour
    script = f"bash packaging/build_bundle.sh --{wanted}"
    if wanted == "cpu":
        raise BundleRefused(
            f"The {torch.describe()} here is not the CPU build, so it cannot make a CPU bundle: run `{script}`, "
            "which builds in a fresh environment of its own with the CPU build of torch (by hand: python3 -m venv "
            f"cpu-env && cpu-env/bin/pip install torch --index-url {PYTORCH_INDEX}/cpu && cpu-env/bin/pip install "
            ". pyinstaller, then run PyInstaller with cpu-env/bin/python)."
        )
    raise BundleRefused(
        f"The {torch.describe()} here cannot make a CUDA bundle: run `{script}`, which builds in a fresh "
        "environment of its own with the CUDA build of torch that `pip install torch` brings on Linux."
    )


def pip_torch_args(current: TorchBuild | None, wanted: str = "auto", requirement: str | None = None) -> list[str]:
    """`pip install --no-deps` arguments that put the wanted torch into a fresh environment.

    "auto" is the torch `current` is (same version, same build), or what `pip install .` brings when there
    is none; "cpu" and "cuda" keep the version and change the build. `requirement` ("torch==2.6.0+cpu")
    overrides the choice. A build with a local label ("+cpu", "+cu126") comes from the PyTorch index of that
    label; the rest from the package index pip is configured with (PyPI's Linux torch is a CUDA build).
    """
    if wanted not in FLAVOURS:
        raise ValueError(f"wanted must be one of {FLAVOURS}, not {wanted!r}")
    if requirement is None:
        if current is None:
            requirement = "torch"
        elif wanted in ("auto", current.flavour):
            requirement = f"torch=={current.version}"
        else:
            requirement = f"torch=={current.base_version}" + ("+cpu" if wanted == "cpu" else "")
    label = re.search(r"\+([\w.]+)$", requirement)
    index = label[1] if label else "cpu" if wanted == "cpu" else None
    return [requirement, "--index-url", f"{PYTORCH_INDEX}/{index}"] if index else [requirement]


# ----- what the app needs at run time, from pyproject.toml and the installed packages -----


def runtime_requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The distribution names in [project].dependencies whose markers hold here."""
    return [req.name for req in _requirements(_pyproject(pyproject)["project"]["dependencies"])]


def test_only_distributions(pyproject: Path = ROOT / "pyproject.toml") -> set[str]:
    """Distributions that only the optional extras (tests, linters) need, never the app."""
    extras = _pyproject(pyproject)["project"].get("optional-dependencies", {})
    optional = {canonical_name(req.name) for reqs in extras.values() for req in _requirements(reqs)}
    return optional - requirement_closure(runtime_requirements(pyproject))


def requirement_closure(names: list[str]) -> set[str]:
    """These installed distributions and everything they require, recursively (canonical names)."""
    from importlib import metadata

    seen: set[tuple[str, tuple]] = set()
    todo = [(canonical_name(name), ()) for name in names]
    while todo:
        key, extras = todo.pop()
        if (key, extras) in seen:
            continue
        try:
            dist = metadata.distribution(key)
        except metadata.PackageNotFoundError:
            continue
        seen.add((key, extras))
        todo += [(canonical_name(r.name), tuple(sorted(r.extras))) for r in _requirements(dist.requires or [], extras)]
    return {key for key, _extras in seen}


def import_names(distributions: set[str]) -> set[str]:
    """The top-level modules these installed distributions provide."""
    from importlib import metadata

    found = set()
    for module, dists in metadata.packages_distributions().items():
        if any(canonical_name(d) in distributions for d in dists) and module.isidentifier():
            found.add(module)
    return found


def pyinstaller_hooks() -> set[str]:
    """The modules PyInstaller (and the hook packages installed with it) has a hook for."""
    from importlib import metadata

    import PyInstaller

    dirs = [Path(PyInstaller.__path__[0]) / "hooks"]
    for entry in metadata.entry_points(group="pyinstaller40", name="hook-dirs"):
        dirs += [Path(d) for d in entry.load()()]
    return {f.stem.removeprefix("hook-") for d in dirs for f in d.glob("hook-*.py")}


def collected_whole(runtime: list[str], hooks: set[str]) -> list[str]:
    """Top-level modules of the runtime dependencies that no PyInstaller hook covers, to be taken whole.

    Such a package may load its parts by name (plugins, encoder files) where the import analysis does not
    look. A distribution with a hook for any of its modules (torch, Qt, numpy) is left to its hooks, which
    know what it needs better than "everything".
    """
    whole = []
    for dist in runtime:
        modules = import_names({canonical_name(dist)})
        if not any(h == m or h.startswith(m + ".") for m in modules for h in hooks):
            whole += sorted(modules)
    return whole


def native_libraries(distributions: set[str]) -> dict[str, Path]:
    """Every shared library (lib*.so*, not a Python module) these installed distributions ship.

    torch loads its own libraries and NVIDIA's with dlopen, where no import analysis sees them: by path inside
    site-packages (the bundle keeps those paths, so torch's RPATHs still point at them) -> file.
    """
    from importlib import metadata

    libs = {}
    for dist in metadata.distributions():
        if canonical_name(dist.metadata["Name"]) not in distributions:
            continue
        for file in dist.files or []:
            name = file.name
            if name.startswith("lib") and re.search(r"\.so(\.\d+)*$", name):
                libs[file.as_posix()] = Path(dist.locate_file(file)).resolve()
    return libs


def _pyproject(path: Path) -> dict:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib
    return tomllib.loads(path.read_text())


def _requirements(lines, extras=()) -> list:
    """Parsed requirements whose environment markers hold (with the given extras requested)."""
    from packaging.requirements import Requirement

    reqs = []
    for line in lines:
        req = Requirement(line)
        if req.marker is None or any(req.marker.evaluate({"extra": e}) for e in (*extras, "")):
            reqs.append(req)
    return reqs


def canonical_name(name: str) -> str:
    """A distribution name as pip compares them: "PySide6_Essentials" -> "pyside6-essentials"."""
    return re.sub(r"[-_.]+", "-", name).lower()


# ----- symbol tables and debug information: torch's libraries carry ~90 MB, Python and the rest ~40 MB -----

STRIP_AT_LEAST = 64 * 2**10  # smaller savings are not worth touching a library (~22 MB in all besides torch's)


def can_strip() -> bool:
    import shutil

    return sys.platform.startswith("linux") and all(shutil.which(tool) for tool in ("strip", "readelf"))


def strippable_bytes(library: Path) -> int:
    """Bytes of the library's static symbol table and debug information, which loading never reads."""
    out = subprocess.run(["readelf", "-S", "-W", str(library)], capture_output=True, text=True).stdout
    total = 0
    for line in out.splitlines():
        fields = line.split("]", 1)[-1].split()
        if len(fields) > 4 and (fields[0] in (".symtab", ".strtab") or fields[0].startswith(".debug")):
            total += int(fields[4], 16)
    return total


def segments_aligned(library: Path) -> bool:
    """True when every loadable segment sits at a file offset the loader can map (offset = address mod align).

    GNU strip can break that in libraries that auditwheel patched (numpy's OpenBLAS): such a copy is not used.
    """
    out = subprocess.run(["readelf", "-l", "-W", str(library)], capture_output=True, text=True).stdout
    loads = [line.split() for line in out.splitlines() if line.split()[:1] == ["LOAD"]]
    return bool(loads) and all(int(f[1], 16) % int(f[-1], 16) == int(f[2], 16) % int(f[-1], 16) for f in loads)


def stripped_copy(library: Path, copy: Path) -> Path:
    """`copy`, the library without its symbol table and debug information, when that saves STRIP_AT_LEAST and
    the copy still loads; else the library itself. Exported names stay (C++ errors still name their functions)."""
    if copy.is_file() and copy.stat().st_mtime >= library.stat().st_mtime:
        return copy  # made by an earlier build from the same file
    if not is_elf(library) or strippable_bytes(library) < STRIP_AT_LEAST:
        return library
    copy.parent.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["strip", "--strip-unneeded", "-o", str(copy), str(library)], capture_output=True)
    if done.returncode != 0 or not segments_aligned(copy):
        copy.unlink(missing_ok=True)
        return library
    return copy


# ----- after the build: every library resolves, and how big it is -----


def is_elf(path: Path) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(4) == b"\x7fELF"
    except OSError:
        return False


def unresolved_libraries(bundle: Path) -> dict[str, list[str]]:
    """Library name -> the bundle files that need it and that the dynamic loader cannot find (Linux, via ldd).

    The bundle's launcher puts its _internal folder on the library path, as here.
    """
    internal = bundle / "_internal"
    env = {**os.environ, "LD_LIBRARY_PATH": str(internal)}
    missing: dict[str, list[str]] = {}
    for path in sorted(bundle.rglob("*")):
        if path.is_symlink() or not path.is_file() or not is_elf(path):
            continue
        out = subprocess.run(["ldd", str(path)], capture_output=True, text=True, env=env).stdout
        for line in out.splitlines():
            if "=> not found" in line:
                missing.setdefault(line.split("=>")[0].strip(), []).append(str(path.relative_to(bundle)))
    return missing


def split_unresolved(missing: dict[str, list[str]], environment: Path) -> tuple[dict, dict]:
    """(dropped, system): libraries the build environment has (so the bundle lost them: an error), and those
    it does not have either, which the desktop provides (X11/xcb, GTK for Qt's optional plugins)."""
    have = {p.name for p in environment.rglob("*.so*")} if missing else set()
    dropped_libs = {name: users for name, users in missing.items() if name in have}
    return dropped_libs, {name: users for name, users in missing.items() if name not in have}


def bundle_size(bundle: Path) -> int:
    """Bytes on disk, unpacked (symbolic links count as links)."""
    return sum(p.lstat().st_size for p in bundle.rglob("*") if p.is_file() or p.is_symlink())


def check_bundle(bundle: Path, environment: Path) -> str:
    """Raise SystemExit naming every library the bundle lost; else a summary of what the desktop must provide."""
    dropped_libs, system = split_unresolved(unresolved_libraries(bundle), environment)
    if dropped_libs:
        lines = [f"  {name} (needed by {', '.join(users[:3])})" for name, users in sorted(dropped_libs.items())]
        raise SystemExit(
            "The bundle lacks libraries that the build environment has, so parts of it cannot load:\n"
            + "\n".join(lines)
        )
    if not system:
        return "every library resolves inside the bundle"
    return "from the desktop, as for any Qt app: " + ", ".join(sorted(system))


def main(argv: list[str]) -> int:
    command = argv[0] if argv else ""
    if command == "torch":
        torch = installed_torch()
        print(f"{torch.version} {torch.flavour}" if torch else "none")
    elif command == "pip-torch":
        wanted = argv[1] if len(argv) > 1 else "auto"
        requirement = argv[2] if len(argv) > 2 and argv[2] else None
        print("\n".join(pip_torch_args(installed_torch(), wanted, requirement)))
    elif command == "size":
        sys.path.insert(0, str(ROOT))
        from gptstudio.core.units import format_bytes

        size = bundle_size(Path(argv[1]))
        print(f"{format_bytes(size)} ({size:,} bytes)")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
