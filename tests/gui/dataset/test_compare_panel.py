"""The tokenizer comparison: measured in the background on the files listed, priced at the model's width."""

import pytest
from PySide6.QtCore import Qt

from gptstudio.core import dataset as ds
from gptstudio.core.tokenizer import padded_vocab_size
from gptstudio.gui.dataset.compare_panel import TokenizerComparePanel

from .helpers import WAIT_MS, LoopProbe, find


@pytest.fixture
def panel(qtbot):
    p = TokenizerComparePanel()
    qtbot.addWidget(p)
    yield p
    p.shutdown()


def measured(qtbot, panel):
    qtbot.waitUntil(lambda: not panel.is_measuring() and panel.comparison() is not None, timeout=WAIT_MS)
    return panel.comparison()


def test_compares_char_gpt2_and_bpe_on_the_files(qtbot, panel):
    assert panel.isHidden()  # nothing to compare yet
    panel.set_bpe_vocab_size(512)
    with LoopProbe(qtbot) as probe:
        panel.set_inputs([ds.demo_text_path()])
        c = measured(qtbot, panel)
    assert probe.worst() < 0.5  # measured off the GUI thread
    assert not panel.isHidden() and [s.kind for s in c.stats] == ["char", "gpt2", "bpe"]
    char, gpt2, bpe = c.stats
    assert char.tokens_per_byte == pytest.approx(1.0) and char.vocab_size == 65  # plain ASCII
    assert 0.25 < gpt2.tokens_per_byte < 0.35 and gpt2.vocab_size == 50257
    assert gpt2.tokens_per_byte < bpe.tokens_per_byte < char.tokens_per_byte and bpe.vocab_size == 517
    rows = panel.rows()
    assert [r[0] for r in rows] == ["char", "gpt2", "bpe 512"]
    assert rows[1][3] == "50,257" and rows[1][4] == "19.32 M"  # 50,304 rows x 384 wide
    assert "sample" in find(panel, "tokenizerCompareCaption").text()


def test_embedding_follows_the_model_width_without_measuring_again(qtbot, panel):
    panel.set_inputs([ds.demo_text_path()])
    first = measured(qtbot, panel)
    panel.set_model_width(64)
    assert panel.comparison() is first and not panel.is_measuring()
    table = find(panel, "tokenizerCompareTable")
    assert table.horizontalHeaderItem(4).text() == "Embedding (64 wide)"
    assert panel.rows()[2][4] == f"{padded_vocab_size(first.stats[2].vocab_size) * 64 / 1e3:.2f} k"
    panel.set_bpe_vocab_size(300)  # a new size: measured again
    assert measured(qtbot, panel) is not first and panel.rows()[2][0] == "bpe 300"


def test_a_click_chooses_a_tokenizer_and_the_choice_is_marked(qtbot, panel):
    panel.set_inputs([ds.demo_text_path()])
    measured(qtbot, panel)
    table = find(panel, "tokenizerCompareTable")
    panel.set_chosen("gpt2")
    assert table.item(1, 0).font().bold() and not table.item(0, 0).font().bold()
    with qtbot.waitSignal(panel.sig_tokenizer_chosen) as chosen:
        rect = table.visualItemRect(table.item(2, 1))
        qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert chosen.args == ["bpe"]
    panel.set_inputs([])
    assert panel.isHidden() and panel.rows() == []
