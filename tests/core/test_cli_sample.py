"""`gptstudio sample`: streaming output, nanoGPT-style separators, RUN forms, errors as one line + exit 2."""

from __future__ import annotations

import io

import pytest

from gptstudio import cli
from gptstudio.commands.sample import SEPARATOR, SamplePrinter
from gptstudio.core.sampler import TokenPiece
from tests.core.sampling_helpers import save_run, shared_tiny_char_model


@pytest.fixture(autouse=True)
def only_sample_command(monkeypatch, one_torch_thread):
    """Run the real dispatcher with just this command, independent of the other commands' modules."""
    monkeypatch.setattr(cli, "COMMAND_MODULES", ["sample"])


@pytest.fixture(scope="module")
def trained(shakespeare_text):
    return shared_tiny_char_model(shakespeare_text[:50_000])


@pytest.fixture
def run(home, trained):
    model, tok, args = trained
    return save_run(home, "tiny", model, tok, args)


class FlushRecorder(io.StringIO):
    """stdout that remembers what had been written at every flush."""

    def __init__(self):
        super().__init__()
        self.flushed = []

    def flush(self):
        self.flushed.append(self.getvalue())


def sample(argv, capsys):
    code = cli.main(["sample", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_streams_prompt_and_continuation_with_nanogpt_separator(run, monkeypatch):
    out = FlushRecorder()
    monkeypatch.setattr("sys.stdout", out)
    code = cli.main(["sample", "tiny", "--prompt", "ROMEO:", "--max-new-tokens", "30", "--seed", "1", "--quiet"])
    text = out.getvalue()
    assert code == 0
    assert text.startswith("ROMEO:") and text.endswith("\n" + SEPARATOR + "\n")
    assert len(text) == len("ROMEO:") + 30 + len(SEPARATOR) + 2  # char model: one character per token
    # streamed: the text grew flush after flush, not written at the end in one go
    growing = [s for s in out.flushed if s.startswith("ROMEO:") and SEPARATOR not in s]
    assert len(set(growing)) >= 20


def test_same_seed_same_output_and_stats_on_stderr(run, capsys):
    argv = ["tiny", "--prompt", "KING:", "--max-new-tokens", "25", "--seed", "5", "--temperature", "1.0"]
    code, first, err = sample(argv, capsys)
    assert code == 0
    assert "iter 80" in err and "25 tokens" in err and "seed 5" in err
    assert sample(argv, capsys)[1] == first
    assert sample([*argv[:-1], "0.5"], capsys)[1] != first


def test_several_samples_each_with_prompt_and_separator(run, capsys):
    code, out, _ = sample(
        ["tiny", "--prompt", "A", "--num-samples", "3", "--max-new-tokens", "10", "--seed", "2", "--quiet"], capsys
    )
    blocks = out.split("\n" + SEPARATOR + "\n")
    assert code == 0 and blocks[-1] == "" and len(blocks) == 4
    assert all(b.startswith("A") and len(b) == 11 for b in blocks[:3])


def test_stop_sequence_and_greedy(run, capsys):
    _, full, _ = sample(
        ["tiny", "--prompt", "ROMEO:", "--max-new-tokens", "40", "--temperature", "0", "--quiet"], capsys
    )
    continuation = full[len("ROMEO:") : -len(SEPARATOR) - 2]
    stop = continuation[10:13]
    cut = continuation[: continuation.find(stop)]
    _, out, _ = sample(
        ["tiny", "--prompt", "ROMEO:", "--max-new-tokens", "40", "--temperature", "0", "--stop", stop, "--quiet"],
        capsys,
    )
    assert out == "ROMEO:" + cut + "\n" + SEPARATOR + "\n"


def test_run_may_be_a_folder_or_a_checkpoint_file_and_prompt_a_file(run, tmp_path, capsys):
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("JULIET:", encoding="utf-8")
    outs = []
    for target in (str(run), str(run / "best.pt")):
        for src in (["--prompt-file", str(prompt)], ["--prompt", f"FILE:{prompt}"]):
            code, out, _ = sample([target, *src, "--max-new-tokens", "8", "--seed", "3", "--quiet"], capsys)
            assert code == 0
            outs.append(out)
    assert outs[0].startswith("JULIET:") and len(set(outs)) == 1


@pytest.mark.parametrize(
    "argv, words",
    [
        (["nope", "--prompt", "a"], ["nope"]),
        (["tiny", "--prompt", "héllo ♥"], ["'♥'", "'é'"]),
        (["tiny", "--temperature", "-1"], ["temperature"]),
        (["tiny", "--top-p", "2"], ["top_p"]),
        (["tiny", "--prompt-file", "/no/such/prompt.txt"], ["prompt file"]),
        (["tiny", "--device", "cuda:9"], ["not available"]),
    ],
)
def test_mistakes_are_one_line_and_exit_2(run, capsys, argv, words):
    code, out, err = sample(argv, capsys)
    assert code == 2 and out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("gptstudio: error:")
    assert all(w in err for w in words)


def test_missing_best_checkpoint_names_the_fix(home, trained, capsys):
    model, tok, args = trained
    save_run(home, "fresh", model, tok, args, best=False)
    code, _, err = sample(["fresh", "--checkpoint", "best"], capsys)
    assert code == 2 and "latest" in err


def test_drop_unknown_allows_foreign_characters(run, capsys):
    code, out, _ = sample(["tiny", "--prompt", "h♥i", "--drop-unknown", "--max-new-tokens", "5", "--quiet"], capsys)
    assert code == 0 and out.startswith("h♥i")


def test_prompt_and_prompt_file_together_are_refused(run, capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["sample", "tiny", "--prompt", "a", "--prompt-file", "b"])
    assert e.value.code == 2


def test_nanogpt_sample_py_flags_work_as_they_are(run, tmp_path, capsys):
    """The guide's `gptstudio sample --out_dir=out-my_dataset --start="..."`, with every sample.py flag,
    as --key=value or --key value: the same text as our own flags."""
    ours = ["tiny", "--prompt", "ROMEO:", "--num-samples", "2", "--max-new-tokens", "12", "--top-k", "5"]
    code, expected, _ = sample([*ours, "--temperature", "0.9", "--seed", "7", "--device", "cpu", "--quiet"], capsys)
    assert code == 0 and expected.count(SEPARATOR) == 2
    nanogpt = [
        f"--out_dir={run}",
        "--init_from=resume",
        "--start=ROMEO:",
        "--num_samples=2",
        "--max_new_tokens=12",
        "--temperature=0.9",
        "--top_k=5",
        "--seed=7",
        "--device=cpu",
        "--compile=False",
        "--dtype=float32",
        "--quiet",
    ]
    assert sample(nanogpt, capsys)[:2] == (0, expected)
    spaced = [part for flag in nanogpt for part in (flag.split("=", 1) if "=" in flag else [flag])]
    assert sample(spaced, capsys)[:2] == (0, expected)  # --key value
    assert sample(["--out_dir", "tiny", "--init_from", "resume", *spaced[4:]], capsys)[:2] == (0, expected)
    prompt = tmp_path / "prompt.txt"
    prompt.write_text("ROMEO:", encoding="utf-8")
    assert sample([*nanogpt[:2], f"--start=FILE:{prompt}", *nanogpt[3:]], capsys)[:2] == (0, expected)
    code, no_cut, _ = sample([*nanogpt[:6], "--top_k=None", *nanogpt[7:]], capsys)  # nanoGPT's "no top-k"
    assert code == 0 and no_cut.startswith("ROMEO:") and no_cut.count(SEPARATOR) == 2


@pytest.mark.parametrize(
    "argv, words",
    [
        (["--init_from=resume", "--start=a"], ["--out_dir"]),
        (["tiny", "--out_dir=other", "--start=a"], ["tiny", "other"]),
    ],
)
def test_nanogpt_flags_that_name_no_run_or_two_are_one_line(run, capsys, argv, words):
    code, out, err = sample(argv, capsys)
    assert code == 2 and out == "" and len(err.strip().splitlines()) == 1
    assert err.startswith("gptstudio: error:") and all(w in err for w in words)


def test_start_and_prompt_together_are_refused(run):
    with pytest.raises(SystemExit) as e:
        cli.main(["sample", "tiny", "--prompt", "a", "--start", "b"])
    assert e.value.code == 2


def piece(sample, text, done=False):
    return TokenPiece(text=text, token_id=0, prob=1.0, top=[], index=0, sample=sample, done=done)


def test_printer_keeps_samples_in_order_whatever_order_they_finish():
    out = io.StringIO()
    printer = SamplePrinter(out, 3, "P")
    for p in [
        piece(0, "a"),
        piece(1, "x"),
        piece(2, "m"),
        piece(2, "n", done=True),
        piece(1, "y"),
        piece(0, "b", done=True),
    ]:
        printer.add(p)
    assert out.getvalue() == f"Pab\n{SEPARATOR}\nPxy"  # sample 1 now streams live
    printer.add(piece(1, "z", done=True))
    assert out.getvalue() == f"Pab\n{SEPARATOR}\nPxyz\n{SEPARATOR}\nPmn\n{SEPARATOR}\n"


def test_printer_finish_ends_unfinished_samples():
    out = io.StringIO()
    printer = SamplePrinter(out, 2, "")
    printer.add(piece(1, "q"))
    printer.finish()
    assert out.getvalue() == f"\n{SEPARATOR}\nq\n{SEPARATOR}\n"
