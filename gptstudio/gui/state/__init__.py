"""Qt-free state behind the GUI's panels: plain Python objects, unit-tested without Qt.

A panel shows one of these and turns clicks into calls on it; what deserves a test (which files are
chosen, what a progress bar says, which estimates a config gets) lives here. An import contract
(pyproject.toml) keeps Qt out of this package.
"""
