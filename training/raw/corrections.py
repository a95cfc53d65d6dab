"""Known bad cells of the coding sheets as distributed, and the values public loaders put there.

One entry per cell: the dataset, the sheet row (0-based, counted below the header row as the
sources count it: a pandas index), the column, the value to use, the bad value when the source
gives it, and the source. The sheet readers apply an entry only while the sheet still holds the
bad value (``was``; where the source does not say, a value that does not fit the frames on disk)
and only when the new value fits them, so a corrected release or a reordered sheet is left
alone. Each application is a note and a ``corrected`` entry of the clip's fixes (clips.csv),
never silent. Cells no entry covers go through the general rules of
:func:`sofp.training.raw.base.check_clip` (nearest frame, apex estimated from motion).

- CASME II, row 60: the offset is wrong in the sheet; tvaranka/meb sets 91.
- SAMM, row 56: the offset is wrong; tvaranka/meb sets 5739 (public loaders differ on this cell,
  so the sheet's value is replaced only when it does not fit the frames on disk).
- SAMM, rows 125, 132 and 133: the apex is -1 (not annotated); tvaranka/meb sets 1105, 4945 and
  5130, found from optical flow.
- CAS(ME)^3 part A, rows 128 (apex 160), 749 (onset 2647), 708, 796, 798 (offsets 34, 1845, 2403)
  and 750 (onset 1; meb sets the apex to 1 too, which is the onset: here the apex is estimated).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

MEB = "tvaranka/meb meb/datasets/datasets.py"


@dataclass(frozen=True)
class Correction:
    """Cell ``column`` (onset, apex or offset) of data row ``row`` of ``dataset``'s sheet should be ``value``."""

    dataset: str
    row: int
    column: str
    value: int
    was: int | None
    source: str

    def applies(self, cells: dict[str, int | None], numbers: Sequence[int]) -> bool:
        """True when the sheet still holds the bad value and ``value`` fits the clip's frames on disk.

        ``cells``: the row's onset, apex and offset as read; ``numbers``: frame numbers of its folder.
        """
        current = cells[self.column]
        bad = current == self.was if self.was is not None else not _fits(self.column, current, cells, numbers)
        return current != self.value and bad and _fits(self.column, self.value, cells, numbers)


def _fits(column: str, value: int | None, cells: dict[str, int | None], numbers: Sequence[int]) -> bool:
    if value is None or value not in numbers:
        return False
    onset, offset = cells["onset"], cells["offset"]
    if column == "offset":
        return onset is None or value > onset
    if column == "apex":
        return (onset is None or value > onset) and (offset is None or value <= offset)
    return offset is None or value < offset


CORRECTIONS: tuple[Correction, ...] = (
    Correction("casme2", 60, "offset", 91, None, f"{MEB}, Casme2: 'Mistake in file, change offset to 91'"),
    Correction("samm", 56, "offset", 5739, None, f"{MEB}, SAMM: 'Mistake in file, change offset'"),
    Correction("samm", 125, "apex", 1105, -1, f"{MEB}, SAMM: 'Missing apex in file, change based on optical flow'"),
    Correction("samm", 132, "apex", 4945, -1, f"{MEB}, SAMM: 'Missing apex in file, change based on optical flow'"),
    Correction("samm", 133, "apex", 5130, -1, f"{MEB}, SAMM: 'Missing apex in file, change based on optical flow'"),
    Correction("casme3", 128, "apex", 160, None, f"{MEB}, Casme3"),
    Correction("casme3", 749, "onset", 2647, None, f"{MEB}, Casme3"),
    Correction("casme3", 750, "onset", 1, None, f"{MEB}, Casme3"),
    Correction("casme3", 708, "offset", 34, None, f"{MEB}, Casme3"),
    Correction("casme3", 796, "offset", 1845, None, f"{MEB}, Casme3"),
    Correction("casme3", 798, "offset", 2403, None, f"{MEB}, Casme3"),
)


def corrections_for(dataset: str, row: int) -> list[Correction]:
    """The entries for data row ``row`` of ``dataset``'s sheet."""
    return [c for c in CORRECTIONS if c.dataset == dataset and c.row == row]
