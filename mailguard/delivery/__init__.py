"""Handing messages to the upstream MTA."""
