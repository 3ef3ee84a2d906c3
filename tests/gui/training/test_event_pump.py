"""EventPump: the buffer between a training job and the GUI thread."""

from gptstudio.core.events import CheckpointSaved, Eval, Finished, Message, SettingsProblem
from gptstudio.gui.training.event_pump import EventPump
from tests.gui.training.helpers import started, step


def test_pump_coalesces_steps_and_delivers_one_finished_last(qtbot):
    pump = EventPump()
    got = []
    for name in ("started", "steps", "eval", "checkpoint", "problem", "finished"):
        getattr(pump, f"sig_{name}").connect(lambda ev, name=name: got.append((name, ev)))
    pump.sig_message.connect(lambda level, text: got.append(("message", (level, text))))
    drains = []
    pump.sig_drained.connect(lambda: drains.append(len(got)))
    pump.start()
    events = [started(), *[step(i) for i in range(500)], Eval(10, 2.0, 2.1, 2.1), CheckpointSaved(10, "c.pt")]
    events += [SettingsProblem("bad", ["n_head"]), Message("hello", "warning"), step(500)]
    events += [Finished("completed", 501), Finished("failed", -1, "a second end"), step(501), Message("late")]
    for ev in events:
        pump.push(ev)
    pump.drain()
    names = [name for name, _ in got]
    assert names == ["started", "steps", "eval", "checkpoint", "problem", "message", "steps", "finished", "message"]
    assert len(got[1][1]) == 500 and got[7][1].status == "completed" and got[-1][1] == ("info", "late")
    assert drains == [7]  # one redraw for the whole drain, before the end is announced
    pump.push(step(502))
    pump.push(Message("torchrun says bye"))
    pump.stop()  # after the end, only log lines pass
    assert got[-1] == ("message", ("info", "torchrun says bye")) and len(got) == 10
