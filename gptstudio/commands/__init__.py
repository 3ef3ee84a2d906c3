"""Subcommands of the `gptstudio` CLI: one module each, with `register(subparsers)`.

Each module adds its parser(s) and sets `func=run` (a function taking the parsed args and returning
an exit code). `extra_ok=True` lets a command receive unparsed `--key=value` settings in `args.extra`.
"""
