"""Reviewer accounts and login sessions for the web UI (``users.db`` or PostgreSQL)."""
