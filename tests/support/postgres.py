"""A fresh schema in the local PostgreSQL's ``test`` database for each test."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_SERVER = os.environ.get("MAILGUARD_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@contextmanager
def fresh_schema() -> Iterator[str]:
    """A database URL whose search path is a new schema, dropped afterwards."""
    psycopg = pytest.importorskip("psycopg")
    schema = f"mg_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_SERVER, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_SERVER}: {exc}")
        pytest.skip(f"PostgreSQL is not reachable: {exc}")
    admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()
