"""Named emotion -> class maps for the composite and for each dataset's own protocol.

Emotions are first made canonical (:func:`canonical_emotion`: ``Happy``/``happy``/``Happiness``
-> ``happiness``, ``sad`` -> ``sadness``, ``Other`` -> ``others``, ...), then a :class:`ClassMap`
turns a canonical emotion into a class index, or None when the map leaves that emotion out.
Label index = position in ``ClassMap.labels``; ``labels.csv`` stores the index in ``label`` and
the class name in ``emotion`` (as the composite does).

Choices (the usual ones in the micro-expression literature):

- ``composite`` (MEGC 2019 composite, 3 classes): negative = anger, contempt, disgust, fear,
  sadness, repression (and SMIC's ``negative``); positive = happiness (SMIC ``positive``);
  surprise. ``others`` and anything else are left out. Same label order as
  ../shared/data/composite: 0 negative, 1 positive, 2 surprise.
- ``casme2-5``: happiness, surprise, disgust, repression, others. CASME II's few fear (2) and
  sadness (7) clips are left out, as in most CASME II 5-class papers.
- ``samm-5``: anger, contempt, happiness, surprise, others (SAMM ``Other``). Disgust, fear and
  sadness (too few clips) are left out, the usual SAMM 5-class protocol.
- ``casme3-7``: anger, disgust, fear, happiness, others, sadness, surprise (every CAS(ME)^3 part A
  emotion; the sheet's ``happy``/``sad`` spellings map to happiness/sadness).
- ``casme3-4``: negative = anger, disgust, fear, sadness; positive = happiness; surprise; others.
- ``casme3-3``: the 4-class map without ``others`` (negative, positive, surprise).
- ``dfme-7``: anger, contempt, disgust, fear, happiness, sadness, surprise (the seven DFME
  categories).
- ``smic-3``: negative, positive, surprise (SMIC's own folders).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sofp.runtime.errors import UsageError

# Spellings seen in the coding sheets (and folder names) -> canonical emotion.
EMOTION_ALIASES: dict[str, str] = {
    "anger": "anger", "angry": "anger",
    "contempt": "contempt",
    "disgust": "disgust", "disgusted": "disgust", "disgusting": "disgust",
    "fear": "fear", "fearful": "fear", "afraid": "fear",
    "sadness": "sadness", "sad": "sadness",
    "repression": "repression", "repressed": "repression",
    "happiness": "happiness", "happy": "happiness", "happines": "happiness",
    "surprise": "surprise", "surprised": "surprise", "sur": "surprise",
    "others": "others", "other": "others",
    "negative": "negative", "ne": "negative",
    "positive": "positive", "po": "positive",
}


def canonical_emotion(raw: str) -> str:
    """Canonical emotion for a sheet cell or folder name (lower-cased raw text when unknown)."""
    key = str(raw).strip().lower()
    return EMOTION_ALIASES.get(key, key)


@dataclass(frozen=True)
class ClassMap:
    """A named map from canonical emotions to class indices.

    ``groups[i]`` lists the canonical emotions of class ``labels[i]``; any other emotion is
    excluded (``index`` returns None).
    """

    name: str
    labels: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    datasets: tuple[str, ...]
    doc: str
    _lookup: dict[str, int] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.labels) != len(self.groups):
            raise ValueError(f"class map {self.name}: {len(self.labels)} labels, {len(self.groups)} groups")
        for i, group in enumerate(self.groups):
            for emotion in group:
                if emotion in self._lookup:
                    raise ValueError(f"class map {self.name}: {emotion} in two classes")
                self._lookup[emotion] = i

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def index(self, emotion: str) -> int | None:
        """Class index of an emotion (canonicalised first), None when the map excludes it."""
        return self._lookup.get(canonical_emotion(emotion))

    def label(self, emotion: str) -> str | None:
        """Class name of an emotion, None when excluded."""
        i = self.index(emotion)
        return None if i is None else self.labels[i]


_NEG = ("anger", "contempt", "disgust", "fear", "sadness", "repression", "negative")

CLASS_MAPS: dict[str, ClassMap] = {m.name: m for m in (
    ClassMap("composite", ("negative", "positive", "surprise"),
             (_NEG, ("happiness", "positive"), ("surprise",)),
             ("casme2", "samm", "smic", "casme3", "dfme"),
             "MEGC 2019 composite: negative (anger, contempt, disgust, fear, sadness, repression), "
             "positive (happiness), surprise; others excluded"),
    ClassMap("casme2-5", ("happiness", "surprise", "disgust", "repression", "others"),
             (("happiness",), ("surprise",), ("disgust",), ("repression",), ("others",)),
             ("casme2",), "CASME II 5 classes; fear and sadness excluded"),
    ClassMap("samm-5", ("anger", "contempt", "happiness", "surprise", "others"),
             (("anger",), ("contempt",), ("happiness",), ("surprise",), ("others",)),
             ("samm",), "SAMM 5 classes; disgust, fear and sadness excluded"),
    ClassMap("casme3-7", ("anger", "disgust", "fear", "happiness", "others", "sadness", "surprise"),
             (("anger",), ("disgust",), ("fear",), ("happiness",), ("others",), ("sadness",), ("surprise",)),
             ("casme3",), "CAS(ME)^3 part A, all 7 emotions"),
    ClassMap("casme3-4", ("negative", "positive", "surprise", "others"),
             (("anger", "disgust", "fear", "sadness"), ("happiness",), ("surprise",), ("others",)),
             ("casme3",), "CAS(ME)^3 4 classes: negative (anger, disgust, fear, sadness), positive, "
             "surprise, others"),
    ClassMap("casme3-3", ("negative", "positive", "surprise"),
             (("anger", "disgust", "fear", "sadness"), ("happiness",), ("surprise",)),
             ("casme3",), "CAS(ME)^3 3 classes: the 4-class map without others"),
    ClassMap("dfme-7", ("anger", "contempt", "disgust", "fear", "happiness", "sadness", "surprise"),
             (("anger",), ("contempt",), ("disgust",), ("fear",), ("happiness",), ("sadness",),
              ("surprise",)),
             ("dfme",), "DFME 7 emotions"),
    ClassMap("smic-3", ("negative", "positive", "surprise"),
             (("negative",), ("positive",), ("surprise",)),
             ("smic",), "SMIC 3 classes (its folders)"),
)}

# The map a dataset's labels.csv uses when none is asked for.
DEFAULT_CLASS_MAP: dict[str, str] = {
    "casme2": "casme2-5", "samm": "samm-5", "smic": "smic-3", "casme3": "casme3-7", "dfme": "dfme-7",
}


def get_class_map(name_or_map: str | ClassMap) -> ClassMap:
    """A class map by name (or passed through); unknown name -> UsageError listing the known ones."""
    if isinstance(name_or_map, ClassMap):
        return name_or_map
    try:
        return CLASS_MAPS[name_or_map]
    except KeyError:
        raise UsageError(f"unknown class map {name_or_map!r}; known: {', '.join(CLASS_MAPS)}") from None
