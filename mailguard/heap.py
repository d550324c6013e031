"""The garbage collector once a process has started: what it loaded to do its work
(Presidio's recognisers, the NER model, the policy) lives as long as the process.

CPython's collector walks every tracked object on each full collection: with the
recognisers loaded that is about 150,000 objects, and the rows of a 200 KB CSV
outlive enough young collections to set one off every few messages (2-3 ms a CSV
message, measured with gc.callbacks). ``gc.freeze()`` takes what exists at the end
of start-up out of the collector's sight (as Instagram's prefork servers do), and a
higher first threshold leaves a message's short-lived objects to reference counting
instead of promoting them while the message is still being read.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 10_000  # CPython 3.11's default is 700


def settle() -> None:
    """Call once, after start-up and warm-up. The relay calls it while already taking
    mail (its warm-up runs beside the first messages): one collection's pause, and the
    few objects of sessions open at that moment are frozen with the rest."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
