#!/usr/bin/env bash
# Build the desktop bundle into dist/GPTStudio/ and smoke-test it with --self-test (offscreen).
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m pip install -q "pyinstaller>=6.5"
python3 -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller packaging/gptstudio.spec
QT_QPA_PLATFORM=offscreen GPTSTUDIO_HOME="$(mktemp -d)" dist/GPTStudio/GPTStudio --self-test
echo "Bundle ready: dist/GPTStudio/GPTStudio"
