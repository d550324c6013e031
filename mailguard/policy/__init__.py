"""Policy: ordered rules over findings decide one action per message."""
