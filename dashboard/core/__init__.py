"""The central's pure core: occupancy rules, alert rules, gap rules and the changes a batch
produced. No I/O and nothing from the layers above."""
