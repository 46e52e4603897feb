"""How long a notebook takes to read, computed from its words, not guessed.

Prose is read at 238 words a minute, the average silent reading rate of adults for English
non-fiction in Brysbaert's meta-analysis of 190 studies ("How many words do we read per minute?",
Journal of Memory and Language 109, 2019, https://doi.org/10.1016/j.jml.2019.104047). Code is read
at half that rate and each exercise takes :data:`EXERCISE_MINUTES`: both are this series' own
estimates, stated as such wherever the times are shown. Worked solutions (collapsed) are not counted.
"""

from __future__ import annotations

import math
import re

PROSE_WPM = 238
CODE_WPM = PROSE_WPM / 2
EXERCISE_MINUTES = 4

_WORD = re.compile(r"\w+")


def minutes(cells: list[dict]) -> dict[str, float]:
    """Minutes for a notebook's ``cells`` (nbformat dicts): prose, code, exercises and their total
    (rounded up to whole minutes)."""
    prose = code = 0
    exercises = 0
    for cell in cells:
        source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            prose += len(_WORD.findall(source))
        elif not cell.get("metadata", {}).get("jupyter", {}).get("source_hidden"):
            code += len(_WORD.findall(source))
            exercises += "lab.check_answer(" in source
    parts = {"prose": prose / PROSE_WPM, "code": code / CODE_WPM, "exercises": exercises * EXERCISE_MINUTES}
    return {**parts, "total": math.ceil(sum(parts.values()))}


def stated(cells: list[dict]) -> str:
    """The 'time to read' a notebook's first cell states."""
    m = minutes(cells)
    return (
        f"about {m['total']} minutes ({m['prose']:.0f} of prose, {m['code']:.0f} of code, "
        f"{m['exercises']:.0f} for the exercises)"
    )
