"""Preparing a folder of documents: memory stays flat as the folder grows, progress goes file by file, and
Cancel stops within a second leaving nothing.

The folder holds --docs documents of about equal size, --mb megabytes in all, of five kinds in turn:
HTML pages (with navigation, a script and a style sheet), Markdown notes, JSON Lines exports, Word
documents and PDFs with a text layer, their text taken from tiny Shakespeare (benchmarks/corpus.py).
The Word and PDF files are written here by hand, as their formats say (WordprocessingML in a ZIP; a
PDF with a Helvetica text stream per page), so the benchmark needs nothing but the app.

1. `python -m gptstudio prepare FOLDER --tokenizer char` runs as a whole process on a quarter of the
   folder and on all of it: wall time and peak RSS (wait4's rusage of that child). Flat memory means
   the second peak is about the first.
2. In-process, prepare_dataset reports progress; the number of progress reports that name a file
   while documents are read is counted, and Cancel is set in the middle of the reading: the time
   until Cancelled is raised is the cancel latency; the workspace must hold no dataset and no
   temporary folder afterwards.

    python benchmarks/bench_documents.py                 # 2,000 documents, 1,000 MB (long)
    python benchmarks/bench_documents.py --docs 400 --mb 100
    python benchmarks/bench_documents.py --quick          # 50 documents, 5 MB: a check that it runs
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path
from xml.sax.saxutils import escape

from corpus import shakespeare_path

REPO = Path(__file__).resolve().parent.parent
KINDS = ("html", "md", "jsonl", "docx", "pdf")


def paragraphs_of(text: str, start: int, size: int) -> list[str]:
    """About `size` characters of whole paragraphs from `text`, starting near `start` (wrapping around)."""
    out, total = [], 0
    paras = text.split("\n\n")
    i = start % len(paras)
    while total < size:
        p = paras[i % len(paras)].strip()
        if p:
            out.append(p)
            total += len(p) + 2
        i += 1
    return out


def write_html(path: Path, paras: list[str]) -> None:
    body = "".join(f"<p>{escape(p).replace(chr(10), '<br>')}</p>\n" for p in paras)
    path.write_text(
        "<!DOCTYPE html><html><head><title>Page</title><style>p { margin: 0 }</style>"
        "<script>var analytics = 1;</script></head><body><nav><a href='/'>Home</a> <a href='/a'>About</a></nav>"
        f"<main><article>{body}</article></main><footer>© the site</footer></body></html>",
        encoding="utf-8",
    )


def write_markdown(path: Path, paras: list[str]) -> None:
    path.write_text("---\ntitle: Notes\n---\n\n# Notes\n\n" + "\n\n".join(paras) + "\n", encoding="utf-8")


def write_jsonl(path: Path, paras: list[str]) -> None:
    path.write_text("".join(json.dumps({"id": i, "text": p}) + "\n" for i, p in enumerate(paras)), encoding="utf-8")


def write_docx(path: Path, paras: list[str]) -> None:
    w = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
    body = "".join(f'<w:p><w:r><w:t xml:space="preserve">{escape(p)}</w:t></w:r></w:p>' for p in paras)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        z.writestr(
            "word/document.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><w:document {w}><w:body>{body}</w:body></w:document>',
        )


def pdf_string(line: str) -> str:
    """A line as the inside of a PDF string literal in Latin-1 (backslashes and parentheses escaped)."""
    line = line.encode("latin-1", "replace").decode("latin-1")
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def write_pdf(path: Path, paras: list[str], lines_per_page: int = 60, width: int = 90) -> None:
    """A PDF 1.4 file: one Helvetica text stream per page, paragraphs wrapped at `width` characters."""
    lines = []
    for p in paras:
        words, line = p.replace("\n", " ").split(), ""
        for word in words:
            if len(line) + len(word) + 1 > width:
                lines.append(line)
                line = word
            else:
                line = f"{line} {word}".strip()
        lines += [line, ""]
    pages = [lines[i : i + lines_per_page] for i in range(0, len(lines), lines_per_page)]
    objects = ["<< /Type /Catalog /Pages 2 0 R >>", "", "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    kids = []
    for page in pages:
        text = "".join(f"({pdf_string(line)}) Tj T* " for line in page)
        stream = f"BT /F1 9 Tf 11 TL 40 800 Td {text}ET"
        objects.append(f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream")
        objects.append(
            f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R >> >> "
            f"/Contents {len(objects)} 0 R >>"
        )
        kids.append(f"{len(objects)} 0 R")
    objects[1] = f"<< /Type /Pages /Kids [{' '.join(kids)}] /Count {len(kids)} >>"
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1", "replace")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{o:010d} 00000 n \n" for o in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    path.write_bytes(bytes(out))


WRITERS = {"html": write_html, "md": write_markdown, "jsonl": write_jsonl, "docx": write_docx, "pdf": write_pdf}


def make_folder(folder: Path, docs: int, megabytes: float) -> int:
    """The documents; returns their total size in bytes."""
    text = shakespeare_path().read_text(encoding="utf-8")
    folder.mkdir(parents=True, exist_ok=True)
    per_doc = int(megabytes * 1e6 / docs)
    for i in range(docs):
        kind = KINDS[i % len(KINDS)]
        WRITERS[kind](folder / f"doc{i:05d}.{kind}", paragraphs_of(text, i * 7919, per_doc))
    return sum(p.stat().st_size for p in folder.iterdir())


def run_cli(folder: Path, home: Path, name: str) -> tuple[float, int]:
    """`gptstudio prepare` as a whole process: (seconds, peak RSS in bytes)."""
    env = {**os.environ, "GPTSTUDIO_HOME": str(home), "PYTHONPATH": str(REPO)}
    start = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "gptstudio", "prepare", str(folder), "--name", name, "--tokenizer", "char"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    _pid, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"prepare failed: {err[-2000:]}")
    scale = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, KiB on Linux
    print("  " + out.strip().splitlines()[-1][:160])
    return seconds, usage.ru_maxrss * scale


def cancel_in_the_middle(folder: Path, home: Path, files: int) -> tuple[int, float, list[str]]:
    """(progress reports naming a file, seconds from Cancel to Cancelled, what is left in the workspace)."""
    sys.path.insert(0, str(REPO))
    from gptstudio.core.dataset import prepare_dataset
    from gptstudio.core.errors import Cancelled

    cancel, named, asked = threading.Event(), set(), [0.0]

    def report(p) -> None:
        if p.phase == "reading" and p.file:
            named.add(p.file)
            if p.file_index >= files // 2 and not cancel.is_set():
                asked[0] = time.perf_counter()
                cancel.set()

    try:
        prepare_dataset([folder], "cancelled", home=home, report=report, cancel=cancel)
    except Cancelled:
        latency = time.perf_counter() - asked[0]
    else:
        raise SystemExit("the preparation ended before it could be cancelled")
    datasets = home / "datasets"
    left = sorted(p.name for p in datasets.iterdir()) if datasets.exists() else []
    return len(named), latency, left


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--docs", type=int, default=2000)
    parser.add_argument("--mb", type=float, default=1000.0)
    parser.add_argument("--quick", action="store_true", help="50 documents, 5 MB")
    args = parser.parse_args()
    docs, mb = (50, 5.0) if args.quick else (args.docs, args.mb)
    with tempfile.TemporaryDirectory(prefix="gptstudio-docs-") as tmp:
        root = Path(tmp)
        small, full = root / "quarter", root / "all"
        print(f"writing {docs // 4:,} + {docs:,} documents ({', '.join(KINDS)}) …", flush=True)
        small_bytes = make_folder(small, docs // 4, mb / 4)
        full_bytes = make_folder(full, docs, mb)
        rows = []
        for label, folder, n, size in (("quarter", small, docs // 4, small_bytes), ("all", full, docs, full_bytes)):
            print(f"prepare {label}: {n:,} documents, {size / 1e6:,.1f} MB", flush=True)
            seconds, peak = run_cli(folder, root / f"home-{label}", label)
            rows.append((label, n, size, seconds, peak))
        named, latency, left = cancel_in_the_middle(full, root / "home-cancel", docs)
    print()
    print(f"{'input':<8} {'documents':>10} {'MB':>9} {'seconds':>9} {'MB/s':>7} {'peak RSS MB':>12}")
    for label, n, size, seconds, peak in rows:
        print(
            f"{label:<8} {n:>10,} {size / 1e6:>9,.1f} {seconds:>9.1f} {size / 1e6 / seconds:>7.2f} {peak / 1e6:>12,.0f}"
        )
    growth = rows[1][4] / rows[0][4]
    print(f"\npeak memory, all vs a quarter: {growth:.2f}x for {rows[1][2] / rows[0][2]:.1f}x the input")
    print(f"progress named {named:,} files before Cancel; Cancel took {latency:.2f} s", end="; ")
    print(f"left in the workspace: {left or 'nothing'}")
    ok = growth < 1.5 and latency < 1.0 and not left
    print("flat memory, prompt cancel, nothing left:", "yes" if ok else "NO")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
