"""Command line, configuration loading and the one-command demo."""
