"""One reply being generated: answer order, the running and final numbers, what is kept (Qt-free)."""

from gptstudio.core.catalog import CheckpointInfo
from gptstudio.core.sample_settings import SampleSettings
from gptstudio.gui.state.reply_progress import Reply


def info(name, which="latest"):
    return CheckpointInfo(path=f"/runs/{name}/{which}.pt", run=name, which=which)


def test_reply_numbers_and_kept_text():
    a, b = info("a"), info("b")
    settings = SampleSettings(num_samples=2, seed=7)
    reply = Reply([a, b], settings, group=4, mode="complete", started=100.0)
    assert reply.answers() == [(0, a), (0, a), (1, b), (1, b)]
    assert reply.answer_index(1, 1) == 3
    reply.count(30)
    reply.count(20)
    assert reply.progress_text(now=102.0) == "Generating… 50 tokens · 25 tokens/s"
    reply.stats[0] = {"tokens": 30, "seconds": 1.0, "tokens_per_sec": 30.0, "first_token_s": 0.01, "stopped": True}
    reply.stats[1] = {"tokens": 20, "seconds": 1.0, "tokens_per_sec": 2000.0, "first_token_s": 0.01, "stopped": False}
    assert reply.summary_text() == "a/latest: 30 tokens · 30 tokens/s  |  b/latest: 20 tokens · 2.0k tokens/s"
    assert reply.footer(0, 15) == "15 tokens · 30 tokens/s · seed 7 · stopped"
    assert reply.footer(1, 10) == "10 tokens · 2.0k tokens/s · seed 7"
    assert reply.message_meta(0, 15) == {
        "checkpoint": "a/latest",
        "seed": 7,
        "tokens": 15,
        "stopped": True,
        "tokens_per_sec": 30.0,
    }
    assert reply.kept_text(" text\nUser: x") == " text\nUser: x"
    chat = Reply([a], SampleSettings(seed=1), group=1, mode="chat")
    assert chat.kept_text(" Well met.\nUser: more") == "Well met."


def test_reply_summary_of_one_checkpoint_has_its_timings():
    reply = Reply([info("a")], SampleSettings(seed=1), group=1)
    reply.stats[0] = {"tokens": 300, "seconds": 1.5, "tokens_per_sec": 200.0, "first_token_s": 0.25}
    assert reply.summary_text() == "300 tokens · 200 tokens/s · 1.5 s · first token 250 ms"
    failed = Reply([info("a")], SampleSettings(seed=1), group=1)
    failed.errors[0] = "boom"
    assert failed.summary_text() == ""
