"""Shared test helpers: real servers on loopback, synthetic mail and files."""
