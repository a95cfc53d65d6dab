"""Raw micro-expression datasets as distributed -> clips -> the composite's flow-image format.

``READERS`` maps a dataset name to its reader class (``casme2``, ``samm``, ``smic``, ``casme3``,
``dfme``); :func:`read_dataset` reads one; :mod:`.prepare` turns clips into flow images plus
``labels.csv`` with the runtime's own face, flow and feature code.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from sofp.runtime.registry import Registry
from sofp.training.raw.base import Clip, ReadResult

READERS: Registry = Registry("dataset")
READERS.add("casme2", "sofp.training.raw.casme2:Casme2Reader")
READERS.add("samm", "sofp.training.raw.samm:SammReader")
READERS.add("smic", "sofp.training.raw.smic:SmicReader")
READERS.add("casme3", "sofp.training.raw.casme3:Casme3Reader")
READERS.add("dfme", "sofp.training.raw.dfme:DfmeReader")


def read_dataset(name: str, root: str | Path, *, warn: Callable[[str], None] | None = None,
                 **options: Any) -> ReadResult:
    """Read dataset ``name`` at ``root`` -> clips plus the report of skipped clips.

    ``options`` go to the reader (``sheet``, ``frames``, ``prefix``; DFME: ``frames_template``,
    ``columns``). Unknown name: UsageError listing the known ones.
    """
    reader = READERS.create(name, **{k: v for k, v in options.items() if v is not None})
    return reader.read(root, warn=warn)


__all__ = ["READERS", "Clip", "ReadResult", "read_dataset"]
