"""The central's HTTP face: the app assembled in one place, one router per resource, the
live stream, the operator UI and the public feed."""
