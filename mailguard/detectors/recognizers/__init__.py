"""mailguard's own Presidio recognisers for UK data Presidio does not cover."""
