"""The `yizhan` command line, the one-command demo and process plumbing (signals, systemd)."""

from servicekit import __version__

__all__ = ["__version__"]
