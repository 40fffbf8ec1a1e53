"""The package version (one home: the package, the CLI and the server read it here)."""

__version__ = "0.1.0"
