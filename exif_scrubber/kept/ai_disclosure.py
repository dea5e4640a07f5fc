"""The AI disclosure: an IPTC digital source type saying that AI generated or edited the content.

It is not personal data, and platforms (Meta, TikTok, LinkedIn) and the EU AI Act (Article 50: machine-readable
marking of AI output) rely on it, so the engine keeps it by default, in XMP as ``Iptc4xmpExt:DigitalSourceType``
(``--drop-ai-disclosure`` removes it). Only the IPTC NewsCodes terms below are kept, always rewritten in their
canonical ``http://cv.iptc.org/...`` form: any other value (a capture, a human edit, free text) is metadata.
"""

from __future__ import annotations

import re

VOCABULARY = "http://cv.iptc.org/newscodes/digitalsourcetype/"
AI_SOURCE_TYPES = (
    "trainedAlgorithmicMedia",
    "compositeWithTrainedAlgorithmicMedia",
    "algorithmicMedia",
    "compositeSynthetic",
)
"""Digital source types that disclose generative AI or synthetic content (IPTC NewsCodes, 2024-09 release):
created by a trained model, edited or composited with one, created by a non-trained algorithm, a composite
holding synthetic elements."""
CANONICAL = frozenset(VOCABULARY + term for term in AI_SOURCE_TYPES)
_FORMS = re.compile(
    r"(?:https?://cv\.iptc\.org/newscodes/digitalsourcetype/|digsrctype:)(?P<term>[A-Za-z]{1,64})/?",
)


def canonical(value: str) -> str | None:
    """The canonical URI of an AI digital source type (URI over http or https, or the ``digsrctype:`` QCode),
    or None when ``value`` is anything else."""
    match = _FORMS.fullmatch(value.strip())
    if match is None or match.group("term") not in AI_SOURCE_TYPES:
        return None
    return VOCABULARY + match.group("term")


def is_ai(value: str) -> bool:
    """True when ``value`` is an AI digital source type in any accepted form."""
    return canonical(value) is not None
