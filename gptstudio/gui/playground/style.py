"""Colours the Playground's panels share for errors and warnings (readable on light and dark themes)."""

ERROR_COLOUR = "#d9534f"
ERROR_STYLE = f"color: {ERROR_COLOUR};"
WARNING_STYLE = "color: #e67e22;"
