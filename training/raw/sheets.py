"""Coding sheets (xlsx via openpyxl, old .xls via xlrd, or csv) -> rows keyed by canonical column names.

The header row is found, not assumed: SAMM's sheet has about a dozen text rows above its header,
and versions of the CASME II sheet differ in their unnamed spacer columns. A column is matched by
its normalised name (lower case, letters and digits only: ``Onset Frame`` == ``OnsetFrame``)
against a list of accepted spellings, so small differences between releases do not matter.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sofp.runtime.errors import SofpError

_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def norm(text: Any) -> str:
    """Normalised column name: lower case, only letters and digits."""
    return _NON_ALNUM.sub("", str(text).lower()) if text is not None else ""


@dataclass(frozen=True)
class SheetRow:
    """One data row: its 1-based row number in the file, its 0-based position below the header row
    (blank rows counted, as a pandas index counts them) and its values by canonical column."""

    line: int
    values: dict[str, Any]
    index: int = 0

    def __getitem__(self, key: str) -> Any:
        return self.values.get(key)


def _xlsx_rows(path: Path, sheet: str | None) -> list[tuple[str, list[list[Any]]]]:
    try:
        import openpyxl
    except ImportError:  # pragma: no cover - openpyxl is in the training extra
        raise SofpError("reading .xlsx coding sheets needs openpyxl: pip install 'sofp-edge[training]'",
                        exit_code=2) from None
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise SofpError(f"coding sheet {str(path)!r} is not a readable .xlsx file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    try:
        names = [sheet] if sheet is not None else list(book.sheetnames)
        if sheet is not None and sheet not in book.sheetnames:
            raise SofpError(f"coding sheet {str(path)!r} has no worksheet {sheet!r}; it has: "
                            f"{', '.join(book.sheetnames)}")
        return [(n, [list(r) for r in book[n].iter_rows(values_only=True)]) for n in names]
    finally:
        book.close()


def _xls_rows(path: Path, sheet: str | None) -> list[tuple[str, list[list[Any]]]]:
    try:
        import xlrd
    except ImportError:
        raise SofpError(f"reading the .xls coding sheet {str(path)!r} needs xlrd: pip install 'sofp-edge[xls]' "
                        "(or save the sheet as .xlsx or .csv)", exit_code=2) from None
    try:
        book = xlrd.open_workbook(str(path), on_demand=True)
    except Exception as exc:  # xlrd raises XLRDError, struct.error, ... for a broken file
        raise SofpError(f"coding sheet {str(path)!r} is not a readable .xls file ({type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else 'unreadable'})") from None
    try:
        names = book.sheet_names()
        if sheet is not None and sheet not in names:
            raise SofpError(f"coding sheet {str(path)!r} has no worksheet {sheet!r}; it has: {', '.join(names)}")
        tables = []
        for n in [sheet] if sheet is not None else names:
            ws = book.sheet_by_name(n)
            tables.append((n, [[None if c == "" else c for c in ws.row_values(i)] for i in range(ws.nrows)]))
        return tables
    finally:
        book.release_resources()


def _sheet_rows(path: Path, sheet: str | None) -> list[tuple[str, list[list[Any]]]]:
    """A workbook's worksheets by its content, not its name: an old .xls (OLE2) file or an .xlsx (zip)."""
    with path.open("rb") as fh:
        magic = fh.read(4)
    return _xls_rows(path, sheet) if magic == b"\xd0\xcf\x11\xe0" else _xlsx_rows(path, sheet)


def _csv_rows(path: Path) -> list[tuple[str, list[list[Any]]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            try:
                dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
            except csv.Error:
                dialect = csv.excel
            return [(path.name, [list(r) for r in csv.reader(fh, dialect)])]
    except (OSError, UnicodeDecodeError) as exc:
        raise SofpError(f"coding sheet {str(path)!r} is not a readable csv file ({exc})") from None


def read_table(
    path: str | Path,
    required: Mapping[str, Sequence[str]],
    optional: Mapping[str, Sequence[str]] | None = None,
    *,
    sheet: str | None = None,
    scan_rows: int = 40,
) -> list[SheetRow]:
    """Rows of a coding sheet as :class:`SheetRow` keyed by the canonical names of ``required``/``optional``.

    ``required``/``optional`` map a canonical name to accepted header spellings. The header is the
    first row, among the first ``scan_rows`` of the first worksheet that has one, containing every
    required column. No such row: a SofpError naming the missing column(s) and the columns seen.
    Empty rows are left out (they are not clips).
    """
    path = Path(path)
    if not path.is_file():
        raise SofpError(f"coding sheet {str(path)!r} does not exist")
    optional = optional or {}
    wanted = {**{k: [norm(s) for s in v] for k, v in required.items()},
              **{k: [norm(s) for s in v] for k, v in optional.items()}}
    tables = _csv_rows(path) if path.suffix.lower() in (".csv", ".tsv", ".txt") else _sheet_rows(path, sheet)

    best: tuple[int, str, list[str]] | None = None  # (n found, sheet, missing) of the closest header row
    for sheet_name, rows in tables:
        for i, row in enumerate(rows[:scan_rows]):
            cells = [norm(c) for c in row]
            missing = [k for k in required if not any(s in cells for s in wanted[k])]
            found = len(required) - len(missing)
            if not missing:
                return _data_rows(rows, i, cells, wanted)
            if found and (best is None or found > best[0]):
                best = (found, sheet_name, missing)
    need = ", ".join(required[k][0] for k in required)
    if best is None:
        raise SofpError(f"coding sheet {str(path)!r}: no header row with columns {need} in its first "
                        f"{scan_rows} rows; is this the dataset's coding sheet?")
    miss = ", ".join(f"{required[k][0]!r}" for k in best[2])
    raise SofpError(f"coding sheet {str(path)!r} (worksheet {best[1]!r}) lacks column {miss}; "
                    f"accepted spellings: {'; '.join('/'.join(required[k]) for k in best[2])}")


def _data_rows(rows: list[list[Any]], header_at: int, cells: list[str],
               wanted: Mapping[str, list[str]]) -> list[SheetRow]:
    where: dict[str, int] = {}
    for key, spellings in wanted.items():
        for s in spellings:  # earlier spellings win
            if s in cells:
                where[key] = cells.index(s)
                break
    out = []
    for j, row in enumerate(rows[header_at + 1:], start=header_at + 2):
        if all(c is None or (isinstance(c, str) and not c.strip()) for c in row):
            continue
        values = {k: (row[c] if c < len(row) else None) for k, c in where.items()}
        out.append(SheetRow(j, values, j - header_at - 2))
    return out


def frame_cell(value: Any) -> int | None:
    """A frame-number cell -> int, or None when empty; ValueError with the cell text when not a number.

    Accepts ints, integral floats (``46.0``) and (signed) digit strings; ``/``, ``-`` and blanks are
    empty. A negative number is returned as is (SAMM writes -1 for a missing apex).
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(repr(value))
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if value != value:  # NaN
            return None
        if value.is_integer():
            return int(value)
        raise ValueError(repr(value))
    text = str(value).strip()
    if text in ("", "/", "-", "--", "n/a", "N/A", "NA", "nan", "None"):
        return None
    if re.fullmatch(r"-?\d+(\.0+)?", text):
        return int(float(text))
    raise ValueError(repr(value))


def text_cell(value: Any) -> str:
    """A text cell -> stripped string ('' for empty); integral floats lose their ``.0``."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()
