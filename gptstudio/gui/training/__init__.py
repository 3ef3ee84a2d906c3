"""The Training tab's panels, each a widget with one concern (their Qt-free state: gui/state/
run_status.py RunStatus, the status lines from a run's events; start_checks.py, what Start checks).

    run_controls.py     RunControls: Start / Stop / Resume, torchrun processes, progress, status lines
    plots.py            TrainingPlots: loss and lr plots over core.curves.RunCurves, overlays
    runs_list.py        RunsList: the workspace's runs, Delete / Reveal / Export, reads selected curves
    text_views.py       SamplePreview and TrainingLog, the panes under the plots
    multinode_dialog.py MultiNodeDialog: torchrun lines for several machines
    event_pump.py       EventPump: the thread-safe buffer between a training job and the GUI thread
    training_runner.py  TrainingRunner: runs core.launch's jobs on the GUI's JobRunner
"""
