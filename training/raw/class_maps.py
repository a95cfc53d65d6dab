"""Named emotion -> class maps for the composite and for each dataset's own protocol.

Emotions are first made canonical (:func:`canonical_emotion`: ``Happy``/``happy``/``Happiness``
-> ``happiness``, ``sad`` -> ``sadness``, ``Other`` -> ``others``, ...), then a :class:`ClassMap`
turns a canonical emotion into a class index, or None when the map leaves that emotion out.
Label index = position in ``ClassMap.labels``; ``labels.csv`` stores the index in ``label`` and
the class name in ``emotion`` (as the composite does).

Choices (the usual ones in the micro-expression literature):

- ``composite`` (MEGC 2019 composite, 3 classes, 442 samples): negative = SAMM's anger, contempt,
  disgust, fear and sadness, CASME II's disgust and repression only (its fear and sadness clips
  are not in the composite), SMIC's ``negative``; positive = happiness (SMIC ``positive``);
  surprise. ``others`` and anything else are left out, and so are CASME II ``sub04/EP12_01f`` and
  ``sub24/EP02_07`` (not in the composite's labels; tvaranka/meb's ``Megc`` drops them too).
  That gives CASME II 145 (88 negative, 32 positive, 25 surprise), SAMM 133 and SMIC-HS 164. Same
  label order as ../shared/data/composite: 0 negative, 1 positive, 2 surprise.
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
    excluded (``index`` returns None). ``per_dataset`` replaces ``groups`` for one dataset (the
    composite takes fewer CASME II emotions as negative); ``excluded_clips`` lists
    ``dataset subject/sample`` names the map leaves out whatever their emotion.
    """

    name: str
    labels: tuple[str, ...]
    groups: tuple[tuple[str, ...], ...]
    datasets: tuple[str, ...]
    doc: str
    per_dataset: dict[str, tuple[tuple[str, ...], ...]] = field(default_factory=dict, compare=False)
    excluded_clips: frozenset[str] = frozenset()
    _lookup: dict[str | None, dict[str, int]] = field(default_factory=dict, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for dataset, groups in {None: self.groups, **self.per_dataset}.items():
            if len(self.labels) != len(groups):
                raise ValueError(f"class map {self.name}: {len(self.labels)} labels, {len(groups)} groups")
            lookup = self._lookup.setdefault(dataset, {})
            for i, group in enumerate(groups):
                for emotion in group:
                    if emotion in lookup:
                        raise ValueError(f"class map {self.name}: {emotion} in two classes")
                    lookup[emotion] = i

    @property
    def num_classes(self) -> int:
        return len(self.labels)

    def index(self, emotion: str, dataset: str | None = None) -> int | None:
        """Class index of an emotion (canonicalised first) of ``dataset``, None when the map excludes it."""
        return self._lookup.get(dataset, self._lookup[None]).get(canonical_emotion(emotion))

    def label(self, emotion: str, dataset: str | None = None) -> str | None:
        """Class name of an emotion, None when excluded."""
        i = self.index(emotion, dataset)
        return None if i is None else self.labels[i]

    def clip_index(self, dataset: str, subject: str, sample: str, emotion: str) -> int | None:
        """Class index of one clip: None when its emotion or the clip itself is left out."""
        if f"{dataset} {subject}/{sample}" in self.excluded_clips:
            return None
        return self.index(emotion, dataset)


_NEG = ("anger", "contempt", "disgust", "fear", "sadness", "repression", "negative")

CLASS_MAPS: dict[str, ClassMap] = {m.name: m for m in (
    ClassMap("composite", ("negative", "positive", "surprise"),
             (_NEG, ("happiness", "positive"), ("surprise",)),
             ("casme2", "samm", "smic", "casme3", "dfme"),
             "MEGC 2019 composite: negative (anger, contempt, disgust, fear, sadness, repression; CASME II "
             "disgust and repression only), positive (happiness), surprise; others excluded",
             per_dataset={"casme2": (("disgust", "repression"), ("happiness",), ("surprise",))},
             excluded_clips=frozenset({"casme2 sub04/EP12_01f", "casme2 sub24/EP02_07"})),
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
