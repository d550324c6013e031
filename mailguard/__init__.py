"""mailguard: an outbound email data-leak guard that sits in the mail path as an SMTP relay."""

import os

# Before numpy loads (the register's index and the NER model use it): OpenBLAS would
# start a thread pool in every process at import. Inspection runs one worker per core,
# so more BLAS threads only compete with the other workers, and a thread started at
# import would make forking the workers from the relay unsafe (inspection/zygote.py).
# An admin's own setting is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

__version__ = "0.1.0"
