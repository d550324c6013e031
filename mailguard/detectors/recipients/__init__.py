"""Detectors that look at who receives a message: visible bulk lists, look-alike
domains, near misses, wrong names, new and unroutable domains. No NLP."""
