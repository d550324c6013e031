"""Carrying out a decision: pass, tag, rewrite, hold, split, reject, notify."""
