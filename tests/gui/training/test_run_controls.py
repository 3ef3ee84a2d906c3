"""RunControls: the Run box."""

from gptstudio.gui.settings import AppSettings
from gptstudio.gui.training.run_controls import RunControls


def test_run_controls_buttons_processes_and_remembered_choice(qtbot, tmp_path):
    settings = AppSettings(tmp_path / "s.json")
    controls = RunControls(settings)
    qtbot.addWidget(controls)
    clicked = []
    for name in ("start", "stop", "resume", "multinode"):
        getattr(controls, f"{name}_clicked").connect(lambda name=name: clicked.append(name))
    controls.show_state(running=False, can_start=True, start_tip="go", resume_candidate="old-run")
    assert controls.startButton.isEnabled() and not controls.stopButton.isEnabled()
    assert "old-run" in controls.resumeButton.toolTip() and controls.processes() == 0
    assert not controls.nprocSpin.isEnabled()
    controls.useTorchrunCheck.setChecked(True)
    controls.nprocSpin.setValue(1)
    assert controls.processes() == 1 and controls.nprocSpin.isEnabled()
    assert settings.get("training.torchrun") is True and settings.get("training.nproc") == 1
    for button in (controls.startButton, controls.resumeButton, controls.multiNodeButton):
        button.click()
    controls.show_state(running=True, can_start=False, start_tip="A run is in progress.", resume_candidate=None)
    controls.stopButton.click()
    assert clicked == ["start", "resume", "multinode", "stop"]
    assert not controls.useTorchrunCheck.isEnabled() and not controls.nprocSpin.isEnabled()
    controls.show_stopping()
    assert not controls.stopButton.isEnabled()
    controls.show_status("Run r: training…", (5, 10))
    assert controls.trainStatus.text() == "Run r: training…" and controls.trainProgress.value() == 5
    again = RunControls(settings)  # the choice is remembered
    qtbot.addWidget(again)
    assert again.processes() == 1
