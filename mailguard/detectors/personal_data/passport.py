"""UK passport numbers as issued since 1920s books: nine digits, a weak pattern that
counts only next to "passport" (Presidio's recogniser knows only the newer letters
and digits form)."""

from presidio_analyzer import Pattern, PatternRecognizer


class PassportNumberRecognizer(PatternRecognizer):
    def __init__(self) -> None:
        super().__init__(
            supported_entity="UK_PASSPORT",
            name="UkPassportNumberRecognizer",
            patterns=[Pattern("nine digits", r"\b\d{9}\b", 0.2)],
            context=["passport", "passport no", "passport number"],
        )
