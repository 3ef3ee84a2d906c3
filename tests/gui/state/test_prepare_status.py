"""What the Prepare progress bar says (Qt-free, with a fake clock)."""

from gptstudio.gui.state.prepare_status import STEPS, PrepareStatus, progress_text

MiB = 1024 * 1024


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_progress_text():
    assert progress_text(0, 30 * MiB, 0.0, "reading") == "Reading · 0 B / 30.0 MiB · ETA estimating…"
    assert progress_text(10 * MiB, 30 * MiB, 5.0, "encoding") == "Encoding · 10.0 MiB / 30.0 MiB · ETA 0:10"
    assert progress_text(10 * MiB, 30 * MiB, 0.2) == "10.0 MiB / 30.0 MiB · ETA estimating…"  # too early to tell
    assert progress_text(30 * MiB, 30 * MiB, 9.0) == "30.0 MiB / 30.0 MiB"


def test_a_preparation_from_start_to_done():
    clock = Clock()
    status = PrepareStatus(clock)
    assert (status.value, status.text) == (0, "Ready")
    status.start("poems")
    assert (status.value, status.text, status.running) == (0, "Starting…", True)
    clock.now += 2
    status.progress(MiB, 4 * MiB, "encoding")
    assert status.value == STEPS // 4 and status.text == "Encoding · 1.0 MiB / 4.0 MiB · ETA 0:06"
    clock.now += 6
    status.succeeded()
    assert (status.value, status.text, status.running) == (STEPS, "Done: poems in 0:08", False)


def test_progress_after_cancel_keeps_cancelling_then_cancelled():
    status = PrepareStatus(Clock())
    status.cancel()  # nothing running: nothing to say
    assert status.text == "Ready"
    status.start("big")
    status.progress(1, 10)
    status.cancel()
    status.progress(5, 10)  # still queued from the job
    assert status.text == "Cancelling…" and status.cancelling
    status.cancelled()
    assert (status.value, status.text, status.running, status.cancelling) == (0, "Cancelled", False, False)
    status.start("again")
    status.failed()
    assert (status.value, status.text) == (0, "Failed")
