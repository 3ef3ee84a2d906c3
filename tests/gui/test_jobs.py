"""The GUI's one job runner: results and progress as signals, restart cancels, shutdown joins."""

import threading
import time

import pytest

from gptstudio.core.errors import Cancelled, DatasetError
from gptstudio.gui.jobs import JobRunner


def counting_job(n, delay=0.0, *, report, cancel):
    for i in range(n):
        if cancel.is_set():
            raise Cancelled()
        report(i)
        time.sleep(delay)
    return f"counted {n}"


def wait_until_cancelled(started: threading.Event, *, report, cancel):
    started.set()
    if not cancel.wait(30):
        return "never cancelled"
    raise Cancelled()


@pytest.fixture
def runner(qtbot):
    r = JobRunner()
    yield r
    assert r.shutdown(10_000)


def test_progress_and_result_arrive_as_signals(qtbot, runner):
    seen, results = [], []
    runner.progressed.connect(seen.append)
    runner.succeeded.connect(results.append)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(counting_job, 5)
    assert seen == [0, 1, 2, 3, 4] and results == ["counted 5"]
    assert not runner.is_running()


def test_starting_again_cancels_the_previous_job_and_drops_its_signals(qtbot, runner):
    started = threading.Event()
    results, cancels, finishes = [], [], []
    runner.succeeded.connect(results.append)
    runner.cancelled.connect(lambda: cancels.append(1))
    runner.finished.connect(lambda: finishes.append(1))
    first = runner.start(wait_until_cancelled, started)
    assert started.wait(10)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(counting_job, 2)
    qtbot.waitUntil(lambda: not first.is_running(), timeout=10_000)
    qtbot.wait(50)  # let any late signal of the first job arrive (it must not)
    assert first.cancel_event.is_set()
    assert results == ["counted 2"] and cancels == [] and finishes == [1]


def test_user_errors_and_bugs_become_one_sentence(qtbot, runner):
    def bad_input(*, report, cancel):
        raise DatasetError("The file is empty: give a file with text.")

    def bug(*, report, cancel):
        raise KeyError("oops")

    def no_memory(*, report, cancel):
        raise MemoryError()

    messages = []
    runner.failed.connect(messages.append)
    for job in (bad_input, bug, no_memory):
        with qtbot.waitSignal(runner.finished, timeout=10_000):
            runner.start(job)
    assert messages[0] == "The file is empty: give a file with text."
    assert messages[1].startswith("Unexpected error: KeyError")
    assert messages[2].startswith("Out of memory: lower batch_size")


def test_cancel_reports_cancelled(qtbot, runner):
    started = threading.Event()
    with qtbot.waitSignal(runner.cancelled, timeout=10_000):
        runner.start(wait_until_cancelled, started)
        assert started.wait(10)
        job = runner.current
        job.cancel()


def test_shutdown_cancels_and_joins_every_thread(qtbot):
    runner = JobRunner()
    started = threading.Event()
    job = runner.start(wait_until_cancelled, started)
    assert started.wait(10)
    assert runner.shutdown(10_000)
    assert not job.is_running() and not runner.is_running()


def test_a_callers_own_report_replaces_the_progress_signal(qtbot, runner):
    collected, signalled = [], []
    runner.progressed.connect(signalled.append)
    with qtbot.waitSignal(runner.finished, timeout=10_000):
        runner.start(counting_job, 3, report=collected.append)
    assert collected == [0, 1, 2] and signalled == []
