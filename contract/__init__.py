"""The wire contract v1: every MQTT topic and payload that gateways and the central share.

Both sides import this package; it imports neither side.
"""
