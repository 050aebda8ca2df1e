"""``python -m thumbnailer`` runs the command-line interface."""

from thumbnailer.cli import run

run()
