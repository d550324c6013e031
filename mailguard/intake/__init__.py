"""Turning raw message bytes into something detectors can read."""
