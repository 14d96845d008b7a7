"""Tags and implicit scalar resolution, shared by both loaders: the YAML 1.2 core schema with `_`
digit separators (``1e-3`` is a float; ``yes``, ``on``, ``2020-01-01`` are strings; ``010`` is 10).
"""
from __future__ import annotations

import math
import re


_Y = "tag:yaml.org,2002:"
STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, MERGE = (
    _Y + "str", _Y + "int", _Y + "float", _Y + "bool", _Y + "null", _Y + "map", _Y + "seq", _Y + "merge",
)
_ALLOWED_EXPLICIT_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL, MAP, SEQ, "!"})
_SCALAR_TAGS = frozenset({STR, INT, FLOAT, BOOL, NULL})

_BOOL_RE = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_NULL_RE = re.compile(r"^(?:~|null|Null|NULL|)$")
_INT_RE = re.compile(r"^(?:[-+]?[0-9][0-9_]*|0x[0-9a-fA-F_]+|0o[0-7_]+|0b[01_]+)$")
_FLOAT_RE = re.compile(
    r"^(?:[-+]?(?:\.[0-9][0-9_]*|[0-9][0-9_]*(?:\.[0-9_]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)
_MERGE_RE = re.compile(r"^<<$")
_HINT_SAFE = "a spec is data; archc never constructs Python objects from YAML"


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_Y):] if tag.startswith(_Y) else tag


def _to_int(value: str) -> int:
    v = value.replace("_", "")
    sign = 1
    if v[:1] in "+-":
        sign = -1 if v[0] == "-" else 1
        v = v[1:]
    if v.startswith("0x"):
        return sign * int(v[2:], 16)
    if v.startswith("0o"):
        return sign * int(v[2:], 8)
    if v.startswith("0b"):
        return sign * int(v[2:], 2)
    return sign * int(v, 10)


def _to_float(value: str) -> float:
    v = value.replace("_", "")
    low = v.lower()
    if low in (".inf", "+.inf"):
        return math.inf
    if low == "-.inf":
        return -math.inf
    if low == ".nan":
        return math.nan
    return float(v)
