"""The first-run guide: its buttons, hiding it for good, and leaving once a run exists."""

from PySide6.QtCore import Qt

from gptstudio.gui.dataset.guided_start import GuidedStart
from gptstudio.gui.settings import AppSettings

from .helpers import find


def test_buttons_hide_and_runs(qtbot):
    settings = AppSettings()
    guide = GuidedStart(settings)
    qtbot.addWidget(guide)
    guide.update_visibility(has_runs=False)
    guide.show()
    assert guide.isVisible()
    with qtbot.waitSignal(guide.sig_demo_requested):
        qtbot.mouseClick(find(guide, "guideDemoButton"), Qt.MouseButton.LeftButton)
    for name, tab in (("guideConfigButton", "Config"), ("guideTrainingButton", "Training")):
        with qtbot.waitSignal(guide.sig_show_tab) as shown:
            qtbot.mouseClick(find(guide, name), Qt.MouseButton.LeftButton)
        assert shown.args == [tab]
    with qtbot.waitSignal(guide.sig_show_tab) as shown:
        qtbot.mouseClick(find(guide, "guidePlaygroundButton"), Qt.MouseButton.LeftButton)
    assert shown.args == ["Playground"]
    guide.update_visibility(has_runs=True)
    assert not guide.isVisible()
    guide.update_visibility(has_runs=False)
    qtbot.mouseClick(find(guide, "guideHideButton"), Qt.MouseButton.LeftButton)
    assert not guide.isVisible()
    again = GuidedStart(settings)  # hiding is remembered
    qtbot.addWidget(again)
    again.update_visibility(has_runs=False)
    assert again.isHidden()
