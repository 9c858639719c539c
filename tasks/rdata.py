"""A reader of R's serialisation format and of R's lazy-load databases (``.rdx`` / ``.rdb``).

R packages ship their data sets (``data/Rdata.rdx`` + ``data/Rdata.rdb``) and code as a *lazy-load
database*:

* ``NAME.rdx`` is one serialised R object (gzip- or zlib-compressed, as ``saveRDS`` writes it):
  ``list(variables = list(<name> = c(offset, length), ...), references = list(...),
  compressed = TRUE | 2 | 3)``.
* ``NAME.rdb`` holds records; variable ``v`` is the ``length`` bytes at ``offset``: a 4-byte
  big-endian uncompressed size, then (``compressed`` = 2 or 3) one type byte ``'0'`` none,
  ``'1'`` zlib, ``'2'`` bzip2, ``'Z'`` xz, or (``compressed`` = TRUE) directly a zlib stream, of
  one serialised object.

A serialisation (``serialize(x, NULL, xdr = TRUE)``, format ``X``) is ``"X\\n"``, the ints
``version`` (2 or 3), writer and minimal-reader R versions, for version 3 a native-encoding string,
then one *item*.  Integers and doubles are big-endian (XDR).  An item starts with a 32-bit flags
word: ``type = flags & 0xFF``, bit 8 "is object", bit 9 "has attributes", bit 10 "has tag",
``levels = flags >> 12`` (string encodings for CHARSXP).  Implemented here:

* vectors ``LGLSXP`` (10), ``INTSXP`` (13), ``REALSXP`` (14), ``CPLXSXP`` (15), ``RAWSXP`` (24):
  a length (``-1`` followed by two ints for long vectors), then the values; ``STRSXP`` (16),
  ``VECSXP`` (19), ``EXPRSXP`` (20): a length then that many items; each followed by its
  attributes (a pairlist) when bit 9 is set.
* ``CHARSXP`` (9): length then bytes (``-1``: NA), decoded as UTF-8 / Latin-1 by its level bits.
* pairlists ``LISTSXP`` (2) and the language-like ``LANGSXP``, ``CLOSXP``, ``PROMSXP``,
  ``DOTSXP``: [attributes] [tag] car cdr, read iteratively along the cdr.
* ``SYMSXP`` (1), ``ENVSXP`` (4), ``PACKAGESXP`` / ``NAMESPACESXP`` / ``PERSISTSXP`` (string
  vectors), which enter the reference table; ``REFSXP`` (255) points back into it (index
  ``flags >> 8``, or the next int when that is 0).
* the singletons ``NILVALUE`` (254), global / base / empty environments, missing and unbound
  markers, base namespace; ``S4SXP`` (25); ``SPECIALSXP`` / ``BUILTINSXP`` (by name).
* ``ALTREP_SXP`` (238): class info, state and attributes; the compact integer / real sequences,
  deferred strings and wrappers that R writes are expanded to ordinary vectors.

Byte code (``BCODESXP``), external pointers and weak references are not needed by data and raise
``NotImplementedError``.

R values map to Python as: atomic vectors -> ``RVector`` (numpy array ``.values`` or list of str /
None for NA, plus ``.attributes``), lists -> ``RList``, pairlists -> ``RPairList`` (list of
(tag, value)), symbols -> ``RSymbol``, NULL -> None.
"""

import bz2
import dataclasses
import gzip
import lzma
import struct
import zlib
from typing import Any, Dict, List, Optional, Tuple

import numpy as np

# SEXP types.
NILSXP, SYMSXP, LISTSXP, CLOSXP, ENVSXP, PROMSXP, LANGSXP = 0, 1, 2, 3, 4, 5, 6
SPECIALSXP, BUILTINSXP, CHARSXP, LGLSXP, INTSXP, REALSXP, CPLXSXP = 7, 8, 9, 10, 13, 14, 15
STRSXP, DOTSXP, VECSXP, EXPRSXP, BCODESXP, EXTPTRSXP, WEAKREFSXP = 16, 17, 19, 20, 21, 22, 23
RAWSXP, S4SXP = 24, 25
# Pseudo-types of the serialisation stream.
REFSXP, NILVALUE_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP = 255, 254, 253, 252, 251
BASENAMESPACE_SXP, NAMESPACESXP, PACKAGESXP, PERSISTSXP = 250, 249, 248, 247
CLASSREFSXP, GENERICREFSXP, BCREPDEF, EMPTYENV_SXP, BASEENV_SXP = 246, 245, 244, 242, 241
ATTRLANGSXP, ATTRLISTSXP, ALTREP_SXP = 240, 239, 238

_IS_OBJECT, _HAS_ATTR, _HAS_TAG = 1 << 8, 1 << 9, 1 << 10
_LATIN1, _UTF8 = 1 << 2, 1 << 3
NA_INTEGER = -2 ** 31


@dataclasses.dataclass
class RSymbol:
  name: str


@dataclasses.dataclass
class RSpecial:
  """A marker R writes by name: an environment singleton, missing argument, builtin, ..."""
  what: str


@dataclasses.dataclass
class REnvironment:
  locked: bool = False
  enclos: Any = None
  frame: Any = None
  hashtab: Any = None
  attributes: Optional["RPairList"] = None


@dataclasses.dataclass
class RPersistent:
  """An object the writer's hook replaced by strings (lazy-load: a key of a stored environment)."""
  strings: List[Optional[str]]


@dataclasses.dataclass
class RPairList:
  """A pairlist (LISTSXP, or LANGSXP & co when ``kind`` says so): ordered (tag, value) pairs."""
  items: List[Tuple[Optional[str], Any]]
  kind: int = LISTSXP
  attributes: Optional["RPairList"] = None

  def as_dict(self) -> Dict[Optional[str], Any]:
    return dict(self.items)


@dataclasses.dataclass
class RVector:
  """An atomic vector: ``values`` a numpy array (LGL as int32 with NA = -2**31, INT int32, REAL
  float64, CPLX complex128, RAW uint8) or, for STRSXP, a list of str (None = NA)."""
  type: int
  values: Any
  attributes: Optional[RPairList] = None

  def attr(self, name: str):
    return None if self.attributes is None else self.attributes.as_dict().get(name)

  def __len__(self):
    return len(self.values)


@dataclasses.dataclass
class RList:
  """A generic vector (VECSXP / EXPRSXP) with its attributes (``names``, ``class``, ...)."""
  values: List[Any]
  attributes: Optional[RPairList] = None
  type: int = VECSXP

  def attr(self, name: str):
    return None if self.attributes is None else self.attributes.as_dict().get(name)

  def names(self) -> Optional[List[Optional[str]]]:
    names = self.attr("names")
    return None if names is None else names.values

  def as_dict(self) -> Dict[str, Any]:
    """name -> element (requires names)."""
    names = self.names()
    if names is None:
      raise ValueError("This R list has no names.")
    return dict(zip(names, self.values))

  def __len__(self):
    return len(self.values)


class RFormatError(ValueError):
  """Bytes that are not a valid R serialisation (or use a part of it this reader lacks)."""


class _Reader:
  """Reads one XDR serialisation from ``data`` (the bytes after any compression)."""

  def __init__(self, data: bytes):
    self.data = memoryview(data)
    self.pos = 0
    self.refs: List[Any] = []

  def _take(self, n: int) -> memoryview:
    if n < 0 or self.pos + n > len(self.data):
      raise RFormatError(f"R serialisation truncated: need {n} bytes at offset {self.pos}.")
    out = self.data[self.pos:self.pos + n]
    self.pos += n
    return out

  def int(self) -> int:
    return struct.unpack(">i", self._take(4))[0]

  def length(self) -> int:
    n = self.int()
    if n == -1:
      hi, lo = self.int(), self.int()
      n = (hi << 32) + (lo & 0xFFFFFFFF)
    elif n < -1:
      raise RFormatError(f"negative vector length {n} in the R serialisation.")
    return n

  def _charsxp(self, flags: int) -> Optional[str]:
    """A CHARSXP body (after its flags): length, bytes (-1: NA), encoding from the levels."""
    n = self.int()
    if n == -1:
      return None
    raw = bytes(self._take(n))
    levels = flags >> 12
    if levels & _LATIN1:
      return raw.decode("latin-1")
    return raw.decode("utf-8", errors="surrogateescape" if not levels & _UTF8 else "strict")

  def header(self) -> int:
    fmt = bytes(self._take(2))
    if fmt != b"X\n":
      raise RFormatError(f"not an XDR R serialisation (format bytes {fmt!r}; only 'X' is read).")
    version = self.int()
    self.int()  # writer's R version
    self.int()  # minimal reader version
    if version == 3:
      self._take(self.int())  # native encoding name
    elif version != 2:
      raise RFormatError(f"R serialisation version {version} is not 2 or 3.")
    return version

  def _string_vec(self) -> List[Optional[str]]:
    if self.int() != 0:
      raise RFormatError("a string vector of a persistent / namespace reference must start with 0.")
    out = []
    for _ in range(self.length()):
      flags = self.int()
      if flags & 0xFF != CHARSXP:
        raise RFormatError(f"expected CHARSXP in a string vector, got type {flags & 0xFF}.")
      out.append(self._charsxp(flags))
    return out

  def _vector(self, kind: int) -> Any:
    n = self.length()
    if kind in (LGLSXP, INTSXP):
      return np.frombuffer(self._take(4 * n), ">i4").astype(np.int32)
    if kind == REALSXP:
      return np.frombuffer(self._take(8 * n), ">f8").astype(np.float64)
    if kind == CPLXSXP:
      pairs = np.frombuffer(self._take(16 * n), ">f8").astype(np.float64).reshape(n, 2)
      return pairs[:, 0] + 1j * pairs[:, 1]
    if kind == RAWSXP:
      return np.frombuffer(self._take(n), np.uint8).copy()
    raise AssertionError(kind)

  def item(self) -> Any:  # pylint: disable=too-many-return-statements,too-many-branches
    flags = self.int()
    kind = flags & 0xFF
    has_attr = bool(flags & _HAS_ATTR)
    if kind == NILVALUE_SXP:
      return None
    if kind in (EMPTYENV_SXP, BASEENV_SXP, GLOBALENV_SXP, UNBOUNDVALUE_SXP, MISSINGARG_SXP,
                BASENAMESPACE_SXP):
      return RSpecial({EMPTYENV_SXP: "emptyenv", BASEENV_SXP: "baseenv",
                       GLOBALENV_SXP: "globalenv", UNBOUNDVALUE_SXP: "unbound",
                       MISSINGARG_SXP: "missing", BASENAMESPACE_SXP: "basenamespace"}[kind])
    if kind == REFSXP:
      index = flags >> 8 or self.int()
      if not 1 <= index <= len(self.refs):
        raise RFormatError(f"reference {index} outside the {len(self.refs)} read so far.")
      return self.refs[index - 1]
    if kind == PERSISTSXP:
      out = RPersistent(self._string_vec())
      self.refs.append(out)
      return out
    if kind == SYMSXP:
      out = RSymbol(self.item())  # a CHARSXP
      self.refs.append(out)
      return out
    if kind in (PACKAGESXP, NAMESPACESXP):
      out = RSpecial(("package:" if kind == PACKAGESXP else "namespace:")
                     + ":".join(s or "" for s in self._string_vec()))
      self.refs.append(out)
      return out
    if kind == ENVSXP:
      env = REnvironment(locked=bool(self.int()))
      self.refs.append(env)  # before its contents, which may refer back to it
      env.enclos, env.frame, env.hashtab = self.item(), self.item(), self.item()
      env.attributes = self.item()
      return env
    if kind in (LISTSXP, LANGSXP, CLOSXP, PROMSXP, DOTSXP, ATTRLANGSXP, ATTRLISTSXP):
      return self._pairlist(flags)
    if kind == CHARSXP:
      return self._charsxp(flags)
    if kind in (SPECIALSXP, BUILTINSXP):
      return RSpecial("builtin:" + bytes(self._take(self.int())).decode("ascii"))
    if kind in (LGLSXP, INTSXP, REALSXP, CPLXSXP, RAWSXP):
      out = RVector(kind, self._vector(kind))
    elif kind == STRSXP:
      n = self.length()
      values = []
      for _ in range(n):
        f = self.int()
        if f & 0xFF != CHARSXP:
          raise RFormatError(f"expected CHARSXP inside a character vector, got type {f & 0xFF}.")
        values.append(self._charsxp(f))
      out = RVector(STRSXP, values)
    elif kind in (VECSXP, EXPRSXP):
      out = RList([self.item() for _ in range(self.length())], type=kind)
    elif kind == S4SXP:
      out = RList([], type=S4SXP)
    elif kind == ALTREP_SXP:
      info, state, attributes = self.item(), self.item(), self.item()
      out = _expand_altrep(info, state)
      out.attributes = attributes
      return out
    else:
      raise NotImplementedError(
          f"R serialisation type {kind} is not supported by this reader (data only: no byte "
          "code, external pointers or weak references).")
    if has_attr:
      out.attributes = self.item()
    return out

  def _pairlist(self, flags: int) -> RPairList:
    """Nodes ``[attr] [tag] car``; a chain of LISTSXP cdrs is read in a loop, not recursively.

    A cdr that is not a LISTSXP (nor NULL) is kept as a last item tagged ``".cdr"``.
    """
    head = RPairList([], kind=flags & 0xFF)
    while True:
      attributes = self.item() if flags & _HAS_ATTR else None
      tag = self.item() if flags & _HAS_TAG else None
      if not head.items:
        head.attributes = attributes
      name = tag.name if isinstance(tag, RSymbol) else (None if tag is None else str(tag))
      head.items.append((name, self.item()))
      flags = self.int()
      if flags & 0xFF != LISTSXP:
        self.pos -= 4
        rest = self.item()
        if rest is not None:
          head.items.append((".cdr", rest))
        return head


def _expand_altrep(info: Any, state: Any):
  """ALTREP classes R serialises: compact sequences, deferred strings, wrappers."""
  cls = info.items[0][1].name if isinstance(info, RPairList) else None
  if cls == "compact_intseq":
    n, start, step = state.values
    return RVector(INTSXP, (start + step * np.arange(int(n))).astype(np.int32))
  if cls == "compact_realseq":
    n, start, step = state.values
    return RVector(REALSXP, start + step * np.arange(int(n), dtype=np.float64))
  if cls == "deferred_string":
    arg = state.items[0][1] if isinstance(state, RPairList) else state
    values = ["NA" if v == NA_INTEGER else repr(int(v)) if arg.type == INTSXP else repr(float(v))
              for v in arg.values]
    return RVector(STRSXP, values)
  if cls is not None and cls.startswith("wrap_"):
    return state.values[0]
  raise NotImplementedError(f"ALTREP class {cls!r} is not supported by this reader.")


def unserialize(data: bytes) -> Any:
  """The R object of one XDR serialisation (uncompressed bytes starting with ``X\\n``)."""
  reader = _Reader(data)
  reader.header()
  return reader.item()


def _decompress(data: bytes) -> bytes:
  if data[:2] == b"\x1f\x8b":
    return gzip.decompress(data)
  if data[:3] == b"BZh":
    return bz2.decompress(data)
  if data[:6] == b"\xfd7zXZ\x00":
    return lzma.decompress(data)
  if data[:2] in (b"X\n", b"A\n", b"B\n"):
    return data
  return zlib.decompress(data)


def read_rds(path: str) -> Any:
  """An ``.rds`` file (``saveRDS``: gzip, bzip2, xz or no compression)."""
  with open(path, "rb") as f:
    return unserialize(_decompress(f.read()))


class LazyLoadDB:
  """R's lazy-load database ``BASE.rdx`` + ``BASE.rdb``: ``names()`` and ``get(name)``."""

  def __init__(self, base: str):
    self.base = base
    index = read_rds(base + ".rdx").as_dict()
    self._variables = index["variables"].as_dict()
    compressed = index.get("compressed")
    self.compressed = 1 if compressed is None else int(compressed.values[0])

  def names(self) -> List[str]:
    return list(self._variables)

  def record(self, name: str) -> bytes:
    """The uncompressed serialisation stored for ``name``."""
    if name not in self._variables:
      raise KeyError(f"{name!r} is not in {self.base}.rdx; it holds {', '.join(self.names())}.")
    offset, length = (int(v) for v in self._variables[name].values)
    with open(self.base + ".rdb", "rb") as f:
      f.seek(offset)
      blob = f.read(length)
    if len(blob) != length:
      raise RFormatError(f"{self.base}.rdb is truncated at the record of {name!r}.")
    size = struct.unpack(">I", blob[:4])[0]
    if self.compressed in (2, 3):
      kind, body = blob[4:5], blob[5:]
      data = {b"0": lambda b: b, b"1": zlib.decompress, b"2": bz2.decompress,
              b"Z": lzma.decompress}[kind](body)
    else:
      data = zlib.decompress(blob[4:])
    if len(data) != size:
      raise RFormatError(f"record {name!r} of {self.base}.rdb: {len(data)} bytes, header says "
                         f"{size}.")
    return data

  def get(self, name: str) -> Any:
    return unserialize(self.record(name))
