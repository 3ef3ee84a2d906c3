"""`gptstudio runs` (a table of the workspace's runs) and `gptstudio import-nanogpt-run DIR --name NAME`."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "runs",
        help="list training runs",
        description="List the runs of the workspace (GUI and CLI runs alike), newest first.",
    )
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=run_list)

    p = sub.add_parser(
        "import-nanogpt-run",
        help="import a nanoGPT out_dir (ckpt.pt) as a run",
        description="Copy a nanoGPT checkpoint into the workspace as a run that can be resumed, "
        "sampled and exported. The vocabulary comes from --dataset, --meta, a "
        "meta.pkl beside the checkpoint, or GPT-2 BPE for GPT-2-sized vocabularies.",
    )
    p.add_argument("src", metavar="DIR", help="nanoGPT out_dir holding ckpt.pt (or the ckpt.pt file)")
    p.add_argument("--name", required=True, help="name of the new run")
    p.add_argument("--dataset", help="the prepared dataset the model was trained on (gives its vocabulary)")
    p.add_argument("--meta", metavar="META_PKL", help="nanoGPT's data/NAME/meta.pkl (read without running code)")
    p.set_defaults(func=run_import)


def _fmt_loss(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "-"


def run_list(args) -> int:
    from gptstudio.core.runs import list_runs

    runs = list_runs()
    if args.json:
        print(json.dumps(runs, indent=2, ensure_ascii=False))
        return 0
    if not runs:
        print("No runs yet: start one with `gptstudio train --dataset NAME`.", file=sys.stderr)
        return 0
    rows = [("NAME", "MODEL", "STATUS", "ITER", "BEST VAL", "BEST BPB", "DATASET", "UPDATED")]
    for r in runs:
        status = r["status"] + (" (interrupted)" if r.get("interrupted") else "")
        it = f"{r.get('iter', '?')}/{r.get('max_iters', '?')}" if "iter" in r else "-"
        rows.append(
            (
                r["name"],
                "chat" if r.get("chat") else "base",
                status,
                it,
                _fmt_loss(r.get("best_val_loss")),
                _fmt_loss(r.get("best_val_bpb")),
                str(r.get("dataset") or "-"),
                str(r.get("updated", ""))[:19].replace("T", " "),
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    return 0


def run_import(args) -> int:
    from gptstudio.core.nanogpt import import_nanogpt_run

    run_dir = import_nanogpt_run(args.src, args.name, dataset=args.dataset, meta_pkl=args.meta)
    print(
        f"Imported {args.src} as run '{args.name}' ({run_dir}). Continue it with "
        f"`gptstudio train --resume {args.name}` or sample it with `gptstudio sample {args.name}`."
    )
    return 0
