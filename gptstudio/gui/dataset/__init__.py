"""The Dataset tab's panels, one module each (composed by gptstudio.gui.dataset_tab):

drop_area (drop or click to choose files), input_panel (the chosen files, their check and preview),
prepare_panel (name, tokenizer, validation share, Prepare/Cancel, progress), library_panel (the
workspace's datasets), details_panel (stats and a token sample of one dataset), guided_start (the
first-run steps), messages (a warning row and an error dialog the panels share).
"""
