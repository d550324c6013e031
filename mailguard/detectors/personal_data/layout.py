"""Where in a text a word sits: which sentence, which paragraph, and whether that
paragraph is boilerplate (a signature, a disclaimer, an auto-reply, quoted header
lines) or not in English.

Special-category words are mostly harmless where they sit in council mail: a job
title under a name, a team's name in a signature, an out-of-office that names the
Duty Mental Health Team. A fact about a person is a sentence, so the detector asks
this module for the sentence a word is in and whether that text is boilerplate.
Everything here is regular expressions and word counts: microseconds per message.
"""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from functools import cached_property

_PARAGRAPH = re.compile(r"\n[ \t>]*\n+")
# A sentence ends at . ! ? followed by a space and a capital, quote or digit; not
# after a title ("Mr. Smith") or a single initial.
_SENTENCE_END = re.compile(
    r"(?<!\bMr)(?<!\bMrs)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bNo)(?<!\bRev)(?<!\b[A-Z])"
    r"[.!?]+[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])"
)
_LABEL_LINE = re.compile(r"^[ \t]*[A-Za-z][A-Za-z /()'.-]{1,40}:[ \t]*\S")
_WORD = re.compile(r"[^\W\d_]+")

# RFC 3676's signature separator, and the closings a signature follows.
_SIG_SEPARATOR = re.compile(r"^-- ?$")
_CLOSING = re.compile(
    r"^(?:(?:kind(?:est)?|best|warm(?:est)?|many|with)\s+(?:regards|wishes|thanks)"
    r"|regards|best|thanks(?: again)?|thank you|many thanks|cheers|all the best"
    r"|yours(?:\s+(?:sincerely|faithfully|truly))?|sincerely|take care|speak soon"
    r"|diolch|cofion(?: gorau)?|yn gywir)[ ,.!]*$",
    re.IGNORECASE,
)
SIGNATURE_LINES = 14  # a closing followed by more lines than this is not a signature
_QUOTE_START = re.compile(
    r"^(?:-{2,}\s*(?:original message|forwarded message)\s*-{2,}|>|"
    r"on .{4,120} wrote:$|from:\s|sent:\s|-----)",
    re.IGNORECASE,
)
_HEADER_LINE = re.compile(
    r"^[ \t>]*(?:from|sent|to|cc|bcc|subject|date|reply-to)[ \t]*:", re.IGNORECASE
)
_WROTE_LINE = re.compile(r"^[ \t>]*on .{4,160} wrote:[ \t]*$", re.IGNORECASE)

_DISCLAIMER = re.compile(
    r"intended (?:solely )?(?:for the )?(?:named )?(?:recipient|addressee)"
    r"|received this (?:e-?mail|message|communication) in error|privileged"
    r"|confidential(?:ity)?|disclaimer|views (?:or opinions )?expressed|monitored"
    r"|virus(?:es)?|do not (?:copy|disclose|forward)|please notify the sender"
    r"|freedom of information act|data protection act|unauthori[sz]ed"
    r"|legally binding|registered (?:office|in england)|company (?:no|number)"
    r"|think before you print|gcsx|secure e-?mail",
    re.IGNORECASE,
)
_AUTOREPLY = re.compile(
    r"out of (?:the )?office|annual leave|(?:currently|i am|i'm) (?:away|on leave|out)"
    r"|limited (?:access to|checking of) (?:my )?e-?mails?|automatic reply|auto-?reply"
    r"|(?:return|back) (?:to the office )?on (?:mon|tue|wed|thu|fri|sat|sun|\d)"
    r"|will (?:respond|reply|get back to you) (?:to your (?:e-?mail|message) )?(?:on|when)"
    r"|not (?:currently )?(?:working|in the office) (?:on|today|until)"
    r"|my working (?:days|hours) are",
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Common English function words; other languages share few of them. A paragraph
# of 8 lower-case words or more with almost none is not English.
_ENGLISH = _words(
    "the and of is are was were you your we our for with this that have has will be it"
    " at by from please not would can if as an or which they their been there what who"
    " should could about any all my me he she his her him us them these those do does"
    " did but so no yes thank thanks dear regards would been had its than then when"
    " into out up also only just here how may must our we're i'm i've don't"
)
ENGLISH_RATIO = 0.12
_MIN_WORDS = 8


@dataclass(frozen=True, slots=True)
class Span:
    start: int
    end: int


class Layout:
    """Sentences, paragraphs and boilerplate of one text, computed once."""

    def __init__(self, text: str) -> None:
        self.text = text

    @cached_property
    def paragraphs(self) -> list[Span]:
        out, pos = [], 0
        for m in _PARAGRAPH.finditer(self.text):
            out.append(Span(pos, m.start()))
            pos = m.end()
        out.append(Span(pos, len(self.text)))
        return [p for p in out if p.end > p.start]

    @cached_property
    def _paragraph_starts(self) -> list[int]:
        return [p.start for p in self.paragraphs]

    def paragraph_of(self, pos: int) -> int:
        return max(0, bisect.bisect_right(self._paragraph_starts, pos) - 1)

    def sentences_in(self, paragraph: int) -> list[Span]:
        """Sentence spans of one paragraph, worked out when first asked for; a short
        line (a list item, a form field, a table row) is one."""
        cached = self._sentences.get(paragraph)
        if cached is not None:
            return cached
        out: list[Span] = []
        for line_start, line_end in self._units(self.paragraphs[paragraph]):
            pos = line_start
            chunk = self.text[line_start:line_end]
            for m in _SENTENCE_END.finditer(chunk):
                out.append(Span(pos, line_start + m.end()))
                pos = line_start + m.end()
            if pos < line_end:
                out.append(Span(pos, line_end))
        self._sentences[paragraph] = out or [self.paragraphs[paragraph]]
        return self._sentences[paragraph]

    @cached_property
    def _sentences(self) -> dict[int, list[Span]]:
        return {}

    def _units(self, para: Span) -> list[tuple[int, int]]:
        """Wrapped prose is one unit; short lines, labels and table rows stand alone."""
        lines, pos = [], para.start
        for line in self.text[para.start : para.end].split("\n"):
            lines.append((pos, pos + len(line)))
            pos += len(line) + 1
        if len(lines) == 1:
            return lines
        widest = max(e - s for s, e in lines)
        units: list[tuple[int, int]] = []
        for s, e in lines:
            line = self.text[s:e]
            joins = (
                units
                and widest >= 50
                and self.text[units[-1][0] : units[-1][1]].rstrip()[-1:] not in (".", ":", "")
                and not _LABEL_LINE.match(line)
                and "\t" not in line
                and (units[-1][1] - units[-1][0]) >= widest * 0.6
            )
            if joins:
                units[-1] = (units[-1][0], e)
            else:
                units.append((s, e))
        return units

    def sentence_of(self, pos: int) -> Span:
        sentences = self.sentences_in(self.paragraph_of(pos))
        i = bisect.bisect_right([x.start for x in sentences], pos) - 1
        return sentences[max(0, i)]

    def sentences_before(self, pos: int, n: int) -> list[Span]:
        """Up to ``n`` sentences before the one at ``pos``, in the same paragraph."""
        sentences = self.sentences_in(self.paragraph_of(pos))
        i = max(0, bisect.bisect_right([x.start for x in sentences], pos) - 1)
        return sentences[max(0, i - n) : i]

    def in_boilerplate(self, pos: int) -> bool:
        """In a signature, a disclaimer, an auto-reply paragraph or a quoted header line."""
        paragraph = self.paragraph_of(pos)
        if paragraph not in self._boilerplate_paragraphs:
            span = self.paragraphs[paragraph] if self.paragraphs else Span(0, 0)
            said = self.text[span.start : span.end]
            self._boilerplate_paragraphs[paragraph] = _is_disclaimer(said) or bool(
                _AUTOREPLY.search(said)
            )
        if self._boilerplate_paragraphs[paragraph]:
            return True
        return any(s.start <= pos < s.end for s in self._signature_and_header_lines)

    @cached_property
    def _boilerplate_paragraphs(self) -> dict[int, bool]:
        return {}

    @cached_property
    def _signature_and_header_lines(self) -> list[Span]:
        return self._signatures() + self._header_lines()

    def _signatures(self) -> list[Span]:
        lines, pos = [], 0
        for line in self.text.split("\n"):
            lines.append((pos, line))
            pos += len(line) + 1
        out = []
        i = 0
        while i < len(lines):
            start, line = lines[i]
            stripped = line.strip()
            if _SIG_SEPARATOR.match(line.rstrip("\r")) or _CLOSING.match(stripped):
                end_index = i + 1
                body = 0
                while end_index < len(lines):
                    text = lines[end_index][1].strip()
                    if _QUOTE_START.match(text):
                        break
                    if text:
                        body += 1
                        if len(text) > 100 and not _is_disclaimer(text):
                            break
                    end_index += 1
                if body <= SIGNATURE_LINES:
                    end = lines[end_index][0] if end_index < len(lines) else len(self.text)
                    out.append(Span(start, end))
                    i = end_index
                    continue
            i += 1
        return out

    def _header_lines(self) -> list[Span]:
        out, pos = [], 0
        for line in self.text.split("\n"):
            if _HEADER_LINE.match(line) or _WROTE_LINE.match(line):
                out.append(Span(pos, pos + len(line)))
            pos += len(line) + 1
        return out

    @cached_property
    def _english_overall(self) -> bool:
        return is_english(self.text, default=True)

    @cached_property
    def _english(self) -> list[bool]:
        return [
            is_english(self.text[p.start : p.end], default=self._english_overall)
            for p in self.paragraphs
        ]

    def english_at(self, pos: int) -> bool:
        """Whether the paragraph at ``pos`` is English (short ones follow the text)."""
        if not self.paragraphs:
            return True
        return self._english[self.paragraph_of(pos)]


def _is_disclaimer(text: str) -> bool:
    hits = {m.group(0).lower() for m in _DISCLAIMER.finditer(text)}
    return len(hits) >= 2 or any(h.startswith(("intended", "received this")) for h in hits)


# Function words of the other languages council mail is written in (Welsh, Polish,
# Romanian, Urdu in Latin letters, and the big European ones): terse English notes
# ("vascular dementia, two falls") have few English function words, but none of these.
_FOREIGN = _words(
    "yn yr ac mae eich ein gyda ydy bod hefyd ond gan wedi fydd oes dim ddim chi"
    " w z na do nie się że jest dla od po jak za ale czy oraz jestem być przez"
    " și în la cu pe nu că este pentru sunt din mai sau fost vă"
    " hai ka ki ke aur se ko mein nahi kya hain bhi ho gaya raha"
    " il di che e per non con sono del della le les des et du est pour dans pas une"
    " el los las por para es y der die und das ist nicht mit den ich zu"
)
FOREIGN_RATIO = 0.12


def is_english(text: str, default: bool = True) -> bool:
    """Judged on lower-case words: a table of names and dates has too few to say. Not
    English when English function words are rare and another language's are not."""
    words = [w for w in _WORD.findall(text) if w.islower()]
    if len(words) < _MIN_WORDS:
        return default
    english = sum(w in _ENGLISH for w in words) / len(words)
    foreign = sum(w in _FOREIGN for w in words) / len(words)
    return english >= ENGLISH_RATIO or foreign < FOREIGN_RATIO
