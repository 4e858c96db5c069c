"""Characters that hide or reorder text: removed from every outside text before it is used."""

from __future__ import annotations

import re

# Control characters, and the invisible ones that reorder or hide text (bidirectional overrides and
# isolates, zero-width spaces and joiners, the BOM, soft hyphens, Hangul fillers, tag characters).
INVISIBLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u115f\u1160\u17b4\u17b5\u180e"
                       "\u200b-\u200f\u202a-\u202e\u2060-\u206f\u3164\ufe00-\ufe0e\ufeff\uffa0\ufff9-\ufffb"
                       "\U000e0000-\U000e007f]")


def strip_invisible(text: str) -> str:
    """`text` without control characters and invisible reordering or zero-width characters."""
    return INVISIBLE.sub("", text)
