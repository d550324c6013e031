"""Who each sender writes to: the memory behind near-miss and new-domain findings.

Learned from mail the relay delivered and from past sent mail (``mailguard history
learn``). Only addresses, display names, counts and dates are kept, never content.
"""
