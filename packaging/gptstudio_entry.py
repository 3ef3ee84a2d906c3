"""Entry point of the desktop bundle: the same `gptstudio` command as the pip install.

A bundle has no `python` beside it, yet torchrun (the Training tab's "Several processes") starts
`<this program> -m torch.distributed.run ...`, and each of its ranks `<this program> -u -m gptstudio train ...`.
So, as python would, this program runs a module given with `-m` (and `-u`: unbuffered output).
"""

import multiprocessing
import runpy
import sys


def run_as_python(args: list[str]) -> bool:
    """Run `[-u] -m MODULE ARGS...` like the python interpreter would; False for any other arguments."""
    unbuffered = args[:1] == ["-u"]
    if unbuffered:
        args = args[1:]
    if len(args) < 2 or args[0] != "-m":
        return False
    if unbuffered:
        sys.stdout.reconfigure(write_through=True)
        sys.stderr.reconfigure(write_through=True)
    sys.argv = [args[1], *args[2:]]
    runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    return True


if __name__ == "__main__":
    multiprocessing.freeze_support()
    if not run_as_python(sys.argv[1:]):
        from gptstudio.cli import main

        sys.exit(main())
