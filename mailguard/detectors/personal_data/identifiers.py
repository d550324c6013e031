"""A council's own reference formats, declared in the policy and found by
``personal_data`` like the built-in identifiers."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, field_validator

from mailguard.config import Lowered
from mailguard.model import Severity


class Identifier(BaseModel):
    """A council's own reference format (council-tax account, UPRN, case number)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[A-Z][A-Z0-9_]{2,40}$")
    pattern: str
    context: Lowered = Field(default_factory=list)
    needs_context: bool = False  # count a match only with a context word near it
    severity: Severity = Severity.MEDIUM

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, v: str) -> str:
        try:
            re.compile(v)
        except re.error as exc:
            raise ValueError(f"not a valid regular expression: {exc}") from None
        return v
