"""Carrying out a decision: tag, rewrite, notify."""
