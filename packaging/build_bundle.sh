#!/usr/bin/env bash
# Build the desktop bundle dist/GPTStudio/ in a fresh virtual environment of its own, then prove it starts.
#
#   bash packaging/build_bundle.sh [--cpu | --cuda] [--torch REQUIREMENT] [--dist DIR] [--work DIR] [--keep-work]
#
# Which torch: by default the one `python3` here has (same version, same CPU or CUDA build), or, without one,
# the torch that `pip install .` brings. --cpu builds the small CPU bundle whatever torch is here, --cuda the
# CUDA bundle; --torch 'torch==2.6.0+cpu' names the exact torch. The environment gets that torch and this
# checkout (`pip install .[bundle]`) and nothing else, so what was installed by hand cannot leak into the
# bundle. Then the bundle's --self-test runs offscreen and the script prints the bundle's size and start-up
# time. Any failure stops it with a message and a non-zero exit. PYTHON=/path/to/python picks the interpreter
# (default python3); pip's own settings (PIP_INDEX_URL, PIP_FIND_LINKS, pip.conf) apply as usual.
set -euo pipefail

fail() {
    echo "build_bundle.sh: error: $*" >&2
    exit 1
}

main() { # one function, read whole before it runs: editing this file during a build cannot derail it
    cd "$(dirname "$0")/.."
    local root=$PWD python=${PYTHON:-python3} wanted=auto requirement="" keep_work=0
    local dist=$root/dist work=$root/build/bundle
    while [ $# -gt 0 ]; do
        case "$1" in
            --cpu) wanted=cpu ;;
            --cuda) wanted=cuda ;;
            --torch) requirement=$2; shift ;;
            --dist) dist=$(realpath -m "$2"); shift ;;
            --work) work=$(realpath -m "$2"); shift ;;
            --keep-work) keep_work=1 ;;
            -h | --help) sed -n '2,13s/^# \{0,1\}//p' "$0"; exit 0 ;;
            *) fail "unknown option $1 (see --help)" ;;
        esac
        shift
    done
    [ "$(uname -s)" = Linux ] || fail "this script builds the Linux bundle; on Windows and macOS see packaging/README.md."
    command -v "$python" >/dev/null || fail "$python not found: set PYTHON=/path/to/python3."

    local here torch
    here=$("$python" packaging/bundle_plan.py torch)
    mapfile -t torch < <("$python" packaging/bundle_plan.py pip-torch "$wanted" "$requirement")
    echo "== torch in $python: $here; bundle: $wanted -> pip install ${torch[*]}"

    unset PYTHONPATH PYTHONHOME # nothing from outside the fresh environment
    local env=$work/env py
    rm -rf "$work"
    mkdir -p "$work"
    echo "== fresh environment $env"
    "$python" -m venv "$env"
    py=$env/bin/python
    "$py" -m pip install -q --no-deps "${torch[@]}" || fail "pip could not install ${torch[*]} (see above)."
    "$py" -m pip install -q "$root[bundle]" || fail "pip could not install this checkout into $env (see above)."
    local version flavour
    read -r version flavour < <("$py" packaging/bundle_plan.py torch)
    if [ "$wanted" != auto ] && [ "$flavour" != "$wanted" ]; then
        fail "pip installed torch $version, a $flavour build, where the $wanted build was asked for: check the" \
            "package indexes pip uses (pip config list) or name the torch with --torch."
    fi

    echo "== PyInstaller ($flavour bundle, torch $version)"
    # PyInstaller's cache of processed libraries stays in the work folder, gone with it
    GPTSTUDIO_BUNDLE_TORCH=$wanted PYINSTALLER_CONFIG_DIR=$work/pyinstaller-cache "$py" -m PyInstaller \
        --noconfirm --clean --log-level WARN --distpath "$dist" --workpath "$work/pyinstaller" \
        packaging/gptstudio.spec || fail "PyInstaller failed (see above); no bundle was made."
    local app=$dist/GPTStudio/GPTStudio
    [ -x "$app" ] || fail "PyInstaller made no $app."

    echo "== self-test of the bundle (offscreen)"
    local home out startup size
    home=$(mktemp -d)
    out=$(QT_QPA_PLATFORM=offscreen GPTSTUDIO_HOME=$home "$app" --self-test 2>&1) || {
        echo "$out" >&2
        rm -rf "$home"
        fail "the bundle's self-test failed (above): $app cannot be shipped."
    }
    rm -rf "$home"
    echo "$out"
    grep -q "self-test passed" <<<"$out" || fail "the bundle's self-test did not report success."
    startup=$(sed -n 's/^\[ *\([0-9.]*\)s\] first window.*/\1/p' <<<"$out")
    size=$("$py" packaging/bundle_plan.py size "$dist/GPTStudio")

    [ "$keep_work" = 1 ] || rm -rf "$work"
    echo "== bundle ready: $app"
    echo "   $flavour bundle with torch $version: $size unpacked, first window after $startup s, self-test passed"
    echo "   to put it in the desktop's applications menu: $app --install-desktop"
}

main "$@"
