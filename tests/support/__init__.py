"""Real local stand-ins for the tests: a private Mosquitto, ports, MQTT probes."""
