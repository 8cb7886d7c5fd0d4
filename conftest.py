"""Configuration shared by the tests and the docstring examples."""

import os

# Figures are drawn off screen, whatever the machine's default backend.
os.environ["MPLBACKEND"] = "Agg"
