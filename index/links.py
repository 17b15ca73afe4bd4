"""Cross-references inside the report: 'see paragraph 3.18.1-4', 'conclusion 34 (page 50)'."""

from __future__ import annotations

import re

from index.text import SUPERSCRIPTS

# "3.18.1-4", "3.4.1 – 4", "3.20.3 12 on pages", "3.3.1-2", or a single "3.24.2".
_PARA_REF_RE = re.compile(r"\b3\.(\d+)\.(\d+)(?:\s*[-–]\s*(\d+)\b(?!\.)|\s+(\d+)(?= on pages))?")
_CONCLUSION_REF_RE = re.compile(
    r"\b[Cc]onclusions?\s+(\d+(?:\s*\(pages?[^)]*\))?(?:\s*(?:,|&|and)\s*\d+(?:\s*\(pages?[^)]*\))?)*)"
)
_PAGE_REF_RE = re.compile(r"\(pages?[^)]*\)")


def find_links(text: str, own_id: str, own_conclusion: int | None) -> tuple[str, ...]:
    """Record ids the text points to, in order of first mention, without itself."""
    found: list[str] = []
    for match in _PARA_REF_RE.finditer(text):
        conclusion, first = int(match.group(1)), int(match.group(2))
        last = int(match.group(3) or match.group(4) or first)
        if last < first or last - first > 30:
            last = first
        found += [f"3.{conclusion}.{n}" for n in range(first, last + 1)]
    for match in _CONCLUSION_REF_RE.finditer(text):
        numbers = re.findall(r"\d+", _PAGE_REF_RE.sub("", match.group(1)))
        found += [f"Conclusion {n}" for n in numbers if 1 <= int(n) <= 42]
    found += [f"Footnote {SUPERSCRIPTS[ch]}" for ch in text if ch in SUPERSCRIPTS]
    own = {own_id, f"Conclusion {own_conclusion}" if own_conclusion else ""}
    return tuple(dict.fromkeys(x for x in found if x not in own))
