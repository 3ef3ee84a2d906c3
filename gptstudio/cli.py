"""`gptstudio` command line: no arguments opens the app; subcommands run the engine headless.

User mistakes (GPTStudioError) print one line on stderr and exit 2, never a traceback; running out of
memory prints one line and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from gptstudio import __version__
from gptstudio.core.errors import GPTStudioError
from gptstudio.core.failures import is_out_of_memory, readable_failure

# subcommand modules under gptstudio.commands, in the order `--help` lists them
COMMAND_MODULES = [
    "prepare",
    "suggest",
    "export",
    "sample",
    "chat",
    "serve",
    "train",
    "runs",
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gptstudio",
        description="GPT Studio: train a small GPT on your own text and talk to it. "
        "Run without arguments to open the app.",
    )
    parser.add_argument("--version", action="version", version=f"gptstudio {__version__}")
    parser.add_argument("--home", help="workspace folder (default: $GPTSTUDIO_HOME or the user data folder)")
    parser.add_argument(
        "--self-test",
        action="store_true",
        help="check this installation end to end (offscreen window, demo data, 20 training "
        "iterations, a sample) in a temporary workspace, then exit",
    )
    parser.add_argument(
        "--install-desktop",
        action="store_true",
        help="add GPT Studio (this installation or desktop bundle) to the applications menu of a Linux desktop, "
        "then exit",
    )
    parser.add_argument(
        "--uninstall-desktop", action="store_true", help="remove it from the applications menu again, then exit"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    for name in COMMAND_MODULES:
        importlib.import_module(f"gptstudio.commands.{name}").register(sub)
    return parser


def error_line(message: str) -> None:
    print(f"gptstudio: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if args.home:
        os.environ["GPTSTUDIO_HOME"] = args.home
    if args.self_test:
        from gptstudio.selftest import run_self_test

        return run_self_test()
    if args.install_desktop or args.uninstall_desktop:
        try:
            print(desktop_menu(install=args.install_desktop))
        except GPTStudioError as e:
            error_line(str(e))
            return 2
        return 0
    if args.command is None:
        if extra:
            parser.error(f"unrecognized arguments: {' '.join(extra)}")
        return open_app()
    if extra and not getattr(args, "extra_ok", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.extra = extra
    try:
        return int(args.func(args) or 0)
    except GPTStudioError as e:
        error_line(str(e))
        return 2
    except KeyboardInterrupt:
        error_line("interrupted.")
        return 130
    except Exception as e:
        if not is_out_of_memory(e):
            raise  # a bug: the traceback is what a report needs
        error_line(readable_failure(e))
        return 1


def desktop_menu(install: bool) -> str:
    """Add to (or remove from) the applications menu; the sentence that says what was done."""
    from gptstudio.core import desktop_entry

    if install:
        done = desktop_entry.install_desktop_entry()
        return (
            f"Added GPT Studio to the applications menu: {done.desktop_file} runs "
            f"{desktop_entry.exec_line(done.command)} (remove it with --uninstall-desktop)."
        )
    done = desktop_entry.uninstall_desktop_entry()
    if not done.files:
        return f"GPT Studio is not in the applications menu ({done.desktop_file} does not exist): nothing to remove."
    return f"Removed GPT Studio from the applications menu: {len(done.files)} files under {desktop_entry.data_home()}."


def open_app() -> int:
    try:
        from gptstudio.gui.app import run_app
        from gptstudio.gui.display_check import startup_problem
    except ImportError as e:
        error_line(f"the desktop app cannot start ({e}); the subcommands still work, see `gptstudio --help`.")
        return 1
    problem = startup_problem()  # missing X11 libraries or no display: Qt itself would abort (exit 134)
    if problem:
        error_line(problem)
        return 1
    return run_app()


if __name__ == "__main__":
    sys.exit(main())
