"""UK sort codes and bank account numbers: weak patterns that need context to count."""

from presidio_analyzer import Pattern, PatternRecognizer


class SortCodeRecognizer(PatternRecognizer):
    def __init__(self) -> None:
        super().__init__(
            supported_entity="UK_SORT_CODE",
            name="UkSortCodeRecognizer",
            patterns=[Pattern("sort code", r"\b\d{2}[- ]\d{2}[- ]\d{2}\b", 0.3)],
            context=["sort", "sort code", "account"],
        )


class BankAccountRecognizer(PatternRecognizer):
    def __init__(self) -> None:
        super().__init__(
            supported_entity="UK_BANK_ACCOUNT",
            name="UkBankAccountRecognizer",
            patterns=[Pattern("account number", r"\b\d{8}\b", 0.2)],
            context=["account", "acc", "a/c", "account number", "account no"],
        )
