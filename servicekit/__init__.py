"""What every yizhan process stands on: the MQTT link, settings loading, reconnect backoff
and the version. It imports only the wire contract and paho, never a side."""

__version__ = "0.1.0"
