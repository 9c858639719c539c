"""The text corpora: the real KJV and janeaustenr texts (known counts and lines), the project's
own reader of R's lazy-load format, deterministic disjoint splits, byte tokens and LM batches.

Uses the cache ($MNEMOSYNE_DATA_DIR or ~/.cache/mnemosyne_lopt) and fetches what is missing
(about 5 s); skips with the fetch error if a registry cannot be reached.
"""

import gzip
import os
import struct
import zlib

import numpy as np
import pytest

from mnemosyne_lopt.tasks import rdata
from mnemosyne_lopt.tasks import text


@pytest.fixture(scope="module")
def fetched():
  missing = [n for n in text.TEXT_NAMES if not os.path.exists(text.source_path(n))]
  if missing:
    try:
      text.fetch_text(missing, verbose=False)
    except (RuntimeError, OSError) as e:
      pytest.skip(f"could not fetch {missing}: {e}")


def test_kjv_is_the_king_james_bible(fetched):
  verses = text.kjv_verses()
  assert len(verses) == 31102  # the KJV's verse count
  assert len({b for b, _, _, _ in verses}) == 66
  assert len({(b, c) for b, c, _, _ in verses}) == 1189  # chapters
  assert len({(b, c, v) for b, c, v, _ in verses}) == 31102  # no verse twice
  assert verses[0][:3] == (1, 1, 1) and verses[0][3].startswith("In the beginning God created")
  assert verses[-1] == (66, 22, 21, "The grace of our Lord Jesus Christ be with you all. Amen.")
  john = [t for b, c, v, t in verses if (b, c, v) == (43, 11, 35)]
  assert john == ["Jesus wept."]
  # Psalms has 150 chapters and 2,461 verses; no verse keeps its "c:v " prefix.
  assert len({c for b, c, _, _ in verses if b == 19}) == 150
  assert sum(1 for b, *_ in verses if b == 19) == 2461
  whole = text.load_text("kjv")
  assert whole.count("\n") == 31101 and not any(ch.isdigit() for ch in whole[:200])


def test_austen_novels_as_janeaustenr_defines_them(fetched):
  novels = text.austen_novels()
  assert tuple(novels) == ("Sense & Sensibility", "Pride & Prejudice", "Mansfield Park", "Emma",
                           "Northanger Abbey", "Persuasion")
  lines = {t: v.split("\n") for t, v in novels.items()}
  # janeaustenr 1.0.0: lines per book of austen_books() and the first line of each vector.
  assert {t: len(v) for t, v in lines.items()} == {
      "Sense & Sensibility": 12624, "Pride & Prejudice": 13030, "Mansfield Park": 15349,
      "Emma": 16235, "Northanger Abbey": 7856, "Persuasion": 8328}
  assert [v[0] for v in lines.values()] == [
      "SENSE AND SENSIBILITY", "PRIDE AND PREJUDICE", "MANSFIELD PARK", "EMMA",
      "NORTHANGER ABBEY", "Persuasion"]
  assert lines["Pride & Prejudice"][9].startswith("It is a truth universally acknowledged")
  assert lines["Emma"][-1] == "FINIS"
  assert text.load_text("austen") == "\n".join(novels.values())


def test_byte_vocabulary(fetched):
  for name in text.TEXT_NAMES:
    s = text.load_text(name)
    ids = text.encode_bytes(s)
    assert ids.dtype == np.int32 and ids.min() >= 0 and ids.max() < text.VOCAB_SIZE == 256
    assert text.decode_bytes(ids) == s
    assert len(ids) == len(s.encode("utf-8"))
  # The KJV is ASCII; Austen's only non-ASCII character is the pound sign (UTF-8 0xC2 0xA3).
  assert text.encode_bytes(text.load_text("kjv")).max() < 128
  austen = text.load_text("austen")
  assert {c for c in austen if ord(c) > 127} == {"\u00a3"}
  high = text.encode_bytes(austen)
  assert sorted(set(high[high > 127].tolist())) == [0xA3, 0xC2]


def test_splits_are_disjoint_contiguous_and_cover_the_text(fetched):
  for name in text.TEXT_NAMES:
    splits = text.text_splits(name)
    assert tuple(splits) == text.SPLITS
    units = text.text_units(name)
    sep = "\n" if name == "kjv" else "\n\n"
    joined = [u for s in text.SPLITS for _, b in splits[s] for u in b.split(sep)]
    assert sorted(joined) == sorted(u for _, u in units)  # a partition of the units
    n = {s: len(b) for s, b in splits.items()}
    total = sum(n.values())
    assert abs(n["train"] / total - 0.8) < 0.01 and abs(n["test"] / total - 0.1) < 0.01
    assert splits == text.text_splits(name)  # deterministic


def test_lm_batches(fetched):
  ds = text.text_datasets("austen", batch_size=4, sequence_length=16, seed=3)
  b = next(ds.train)
  assert b["obs"].shape == b["target"].shape == (4, 16) and b["obs"].dtype == np.int32
  np.testing.assert_array_equal(b["obs"][:, 1:], b["target"][:, :-1])
  train = text.load_text("austen")
  for row_o, row_t in zip(b["obs"], b["target"]):
    window = text.decode_bytes(np.concatenate([row_o, row_t[-1:]]))
    assert window in train
  # Checkpointable: restoring the generator state repeats the batches.
  state = ds.train.get_state()
  x = next(ds.train)
  ds.train.set_state(state)
  np.testing.assert_array_equal(next(ds.train)["obs"], x["obs"])
  # A test window never comes from a training block.
  test_blocks = [t for _, t in text.text_splits("austen")["test"]]
  tb = next(text.text_datasets("austen", batch_size=8, sequence_length=64).test)
  for row in tb["obs"]:
    assert any(text.decode_bytes(row) in blk for blk in test_blocks)


def _xdr_serialisation(obj_bytes: bytes) -> bytes:
  return b"X\n" + struct.pack(">iii", 3, 0x040201, 0x030500) + struct.pack(">i", 5) + b"UTF-8" \
      + obj_bytes


def test_rdata_reader_on_hand_written_serialisations(tmp_path):
  """Independent check of the R reader: bytes written here from R's format description."""
  def charsxp(s):
    b = s.encode()
    return struct.pack(">ii", 9 | (1 << 3) << 12 if any(ord(c) > 127 for c in s) else 9 | 64 << 12,
                       len(b)) + b
  names_attr = (struct.pack(">i", 2 | 1 << 10) + struct.pack(">i", 1) + charsxp("names")
                + struct.pack(">ii", 16, 2) + charsxp("a") + charsxp("b\u00a3")
                + struct.pack(">i", 254))
  lst = (struct.pack(">ii", 19 | 1 << 9, 2)
         + struct.pack(">ii", 13, 3) + struct.pack(">iii", 1, -2 ** 31, 7)
         + struct.pack(">ii", 16, 2) + charsxp("x") + struct.pack(">i", 9) + struct.pack(">i", -1)
         + names_attr)
  obj = rdata.unserialize(_xdr_serialisation(lst))
  assert obj.names() == ["a", "b\u00a3"]
  np.testing.assert_array_equal(obj.values[0].values, [1, rdata.NA_INTEGER, 7])
  assert obj.values[1].values == ["x", None]
  # A compact_intseq ALTREP (n = 4, start = 10, step = 2), as R writes 10:16 by 2 sequences.
  altrep = (struct.pack(">i", 238) + struct.pack(">i", 2) + struct.pack(">i", 1)
            + charsxp("compact_intseq") + struct.pack(">i", 254)
            + struct.pack(">ii", 14, 3) + struct.pack(">ddd", 4, 10, 2) + struct.pack(">i", 254))
  # A lazy-load database of two variables written here: .rdx gzip, .rdb zlib records.
  rec_a = _xdr_serialisation(altrep)
  rec_b = _xdr_serialisation(lst)
  blobs = [struct.pack(">I", len(r)) + zlib.compress(r) for r in (rec_a, rec_b)]
  (tmp_path / "db.rdb").write_bytes(b"".join(blobs))
  offs = [0, len(blobs[0])]
  def intvec(a, b):
    return struct.pack(">ii", 13, 2) + struct.pack(">ii", a, b)
  variables = (struct.pack(">ii", 19 | 1 << 9, 2) + intvec(offs[0], len(blobs[0]))
               + intvec(offs[1], len(blobs[1]))
               + struct.pack(">i", 2 | 1 << 10) + struct.pack(">i", 1) + charsxp("names")
               + struct.pack(">ii", 16, 2) + charsxp("seq") + charsxp("lst") + struct.pack(">i", 254))
  index = (struct.pack(">ii", 19 | 1 << 9, 2) + variables + struct.pack(">ii", 10, 1)
           + struct.pack(">i", 1)
           + struct.pack(">i", 2 | 1 << 10) + struct.pack(">i", 255 | 1 << 8)  # REFSXP 1: "names"
           + struct.pack(">ii", 16, 2) + charsxp("variables") + charsxp("compressed")
           + struct.pack(">i", 254))
  (tmp_path / "db.rdx").write_bytes(gzip.compress(_xdr_serialisation(index)))
  db = rdata.LazyLoadDB(str(tmp_path / "db"))
  assert db.names() == ["seq", "lst"] and db.compressed == 1
  np.testing.assert_array_equal(db.get("seq").values, [10, 12, 14, 16])
  assert db.get("lst").names() == ["a", "b\u00a3"]
  with pytest.raises(KeyError, match="holds seq, lst"):
    db.get("nope")


def test_missing_source_names_the_fetch_command(tmp_path):
  for name in text.TEXT_NAMES:
    with pytest.raises(FileNotFoundError, match=f"mnemosyne-data fetch --only {name}"):
      text.load_text(name, data_dir=str(tmp_path))
  with pytest.raises(FileNotFoundError, match="mnemosyne-data fetch --only kjv"):
    text.text_datasets("kjv", data_dir=str(tmp_path))
