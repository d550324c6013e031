"""What an OLE2 compound file (the container of old Office files) really is.

The same magic bytes start a legacy .xls or .doc, an Outlook .msg and an encrypted
.xlsx/.docx; olefile lists the streams, which tell them apart.
"""

from __future__ import annotations


def kind_of(data: bytes) -> str:
    """``xls``, ``doc``, ``msg``, ``encrypted``, ``damaged`` or ``ole`` (anything else)."""
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except Exception:  # truncated or damaged: the caller reports it
        return "damaged"
    try:
        names = {"/".join(entry) for entry in ole.listdir(streams=True, storages=True)}
    finally:
        ole.close()
    if "EncryptionInfo" in names or "EncryptedPackage" in names:
        return "encrypted"
    if "Workbook" in names or "Book" in names:
        return "xls"
    if "WordDocument" in names:
        return "doc"
    if any(n.startswith("__substg1.0_") for n in names):
        return "msg"
    return "ole"
