"""`yizhan workers`, `yizhan keys` and `yizhan operators`: the central's own commands."""
