"""Simulated devices: the same byte streams and pins as the real ones, on a laptop."""
