"""A labelled corpus of a fictional council's outbound mail, for ``mailguard eval``.

``python -m tests.support.corpus OUTDIR --seed 1 --count 1500`` writes
``NNNN-kind.eml`` files, ``labels.json`` (what each message is and what it holds),
``policy.yaml`` (the shipped default policy with the council's organisation) and
``history.mbox`` (the council's past sent mail, to learn before scoring).

The messages describe the council's real mail, not any detector: ordinary mail that
looks risky to a naive guard (``clean.py``) and leaks (``risky.py``).
"""

from tests.support.corpus.generate import generate

__all__ = ["generate"]
