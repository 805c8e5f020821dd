"""The station gateway: decides at the door, drives the lock, publishes events over MQTT."""
