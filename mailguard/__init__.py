"""mailguard: an outbound email data-leak guard that sits in the mail path as an SMTP relay."""

__version__ = "0.1.0"
