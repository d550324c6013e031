"""Held mail: a durable store, and the service that holds, releases and rejects."""
