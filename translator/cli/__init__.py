"""The ``translator`` command line."""

from translator.cli.main import main

__all__ = ["main"]
