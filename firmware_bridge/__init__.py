"""Device drivers: pure frame codecs for scanner, radar, Wiegand and beams, plus thin I/O loops."""
