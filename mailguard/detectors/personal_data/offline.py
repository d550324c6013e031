"""Presidio recognisers made safe for a relay: no network, GB phone numbers only."""

from __future__ import annotations

from functools import cache

import tldextract
from presidio_analyzer.predefined_recognizers import EmailRecognizer, PhoneRecognizer


@cache
def _extract() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot: never fetched from the internet at run time.
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


class OfflineEmailRecognizer(EmailRecognizer):
    def validate_result(self, pattern_text: str) -> bool:
        return bool(_extract()(pattern_text).fqdn)


def gb_phone() -> PhoneRecognizer:
    return PhoneRecognizer(supported_regions=("GB",), context=["phone", "tel", "mobile", "call"])
