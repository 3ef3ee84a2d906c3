"""The Playground tab's panels: one widget per concern, each with a small public API.

`gptstudio.gui.playground_tab.PlaygroundTab` assembles them. The Qt-free state they show lives in
`gui/state/` (`checkpoint_choices`, `playground_session`, `reply_progress`, `playground_prefs`) and the
jobs in `core/streaming.py`. Here: `model_loader` and `reply_streamer` (those jobs on JobRunners),
`chat_controller` (the session and the chat view in step), and the widgets: `model_bar`
(`checkpoint_picker` + `compare_picker`), `chat_view` + `reply_pane`, `composer` (+ mode choice),
`sampling_panel`, `token_inspector`, `conversation_files`.
"""
