"""Board profiles and simulated devices (virtual scanners, radars, mock pins, stations)."""
