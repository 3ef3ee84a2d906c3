"""The Config tab's panels, one module each (composed by gptstudio.gui.config_tab):

presets_bar (built-in and saved presets), file_buttons (open, save, import a nanoGPT config,
defaults), settings_form (every TrainConfig field, generated from its metadata with bindings.py),
problems_panel (what keeps the settings from training), estimates_panel (size, memory, time and
the speed measurement), lr_plot (the learning-rate schedule). field_text.py holds the form's words.
"""
