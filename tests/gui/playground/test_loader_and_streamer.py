"""Models load and replies stream on JobRunners: ready/failed/status, side by side, stop, shutdown."""

from gptstudio.core.catalog import describe_checkpoint
from gptstudio.core.sample_settings import SampleSettings
from gptstudio.gui.playground.model_loader import ModelLoader
from gptstudio.gui.playground.reply_streamer import ReplyStreamer


def test_loader_loads_what_is_wanted(qtbot, tiny_run_source, tmp_path):
    latest, best = describe_checkpoint(tiny_run_source / "ckpt.pt"), describe_checkpoint(tiny_run_source / "best.pt")
    loader = ModelLoader()
    assert not loader.ready() and loader.samplers() == []
    with qtbot.waitSignals([loader.changed, loader.changed], timeout=30_000):
        loader.want([latest, best])  # two loads side by side
    assert "Loading" not in loader.status()[0]
    qtbot.waitUntil(loader.ready, timeout=30_000)
    text, failed = loader.status()
    assert (
        not failed
        and "ckpt.pt: base model (continues text), 27.71 k parameters, char tokenizer, context 32, on cpu" in text
    )
    assert [s.checkpoint_path.name for s in loader.samplers()] == ["ckpt.pt", "best.pt"]
    loader.want([best])  # the other model is let go
    assert loader.ready() and len(loader.samplers()) == 1

    bad = tmp_path / "bad.pt"
    bad.write_bytes((tiny_run_source / "ckpt.pt").read_bytes())
    broken = describe_checkpoint(bad)
    bad.write_bytes(b"garbage")
    with qtbot.waitSignal(loader.changed, timeout=30_000):
        loader.want([broken])
    text, failed = loader.status()
    assert failed and loader.failed() and text.startswith("Could not load bad.pt:")
    loader.want([])
    assert not loader.failed() and loader.status() == ("", False)
    assert loader.shutdown(10_000)


def test_streamer_runs_one_stream_per_model_and_stops(qtbot, tiny_sampler):
    streamer = ReplyStreamer()
    got: dict[int, list] = {0: [], 1: []}
    answered = {}
    streamer.pieces.connect(lambda tag, batch: got[tag].extend(batch))
    streamer.answered.connect(answered.__setitem__)
    settings = SampleSettings(max_new_tokens=40, seed=3)
    with qtbot.waitSignal(streamer.finished, timeout=30_000):
        streamer.start([tiny_sampler, tiny_sampler], "ROMEO:", settings)
        assert streamer.is_running()
    assert not streamer.is_running()
    assert len(got[0]) == len(got[1]) == 40
    assert [p.token_id for p in got[0]] == [p.token_id for p in got[1]]  # same model, same seed
    assert answered[0]["tokens"] == 40 and not answered[0]["stopped"]

    answered.clear()
    with qtbot.waitSignal(streamer.finished, timeout=30_000):
        streamer.start([tiny_sampler], "KING:", SampleSettings(max_new_tokens=1_000_000, seed=1))
        qtbot.waitUntil(lambda: len(got[0]) > 40, timeout=10_000)
        streamer.stop()
    assert answered[0]["stopped"] and 0 < answered[0]["tokens"] < 1_000_000
    assert streamer.shutdown(10_000)


def test_streamer_reports_a_failure(qtbot):
    class Broken:
        def stream(self, prompt, settings, cancel):
            raise MemoryError()

    streamer = ReplyStreamer()
    failures = []
    streamer.failed.connect(lambda tag, message: failures.append((tag, message)))
    with qtbot.waitSignal(streamer.finished, timeout=10_000):
        streamer.start([Broken()], "x", SampleSettings())
    assert failures and failures[0][0] == 0 and "memory" in failures[0][1].lower()
    assert streamer.shutdown(10_000)
