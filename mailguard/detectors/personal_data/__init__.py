"""UK personal data in bodies and attachments, on Presidio's recognisers."""
