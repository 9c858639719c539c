"""Text tasks on the real corpora: each one's loss falls under optax Adam within 50 steps
(first loss against the mean of the last 10), and fine-tuning / prompt-tuning keep their frozen
MiniLM weights out of the trained parameters and bitwise unchanged.  Tiny sizes: 1-2 layers,
short sequences, small batches.
"""

import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from mnemosyne_lopt.tasks import minilm
from mnemosyne_lopt.tasks import text
from mnemosyne_lopt.tasks import text_tasks as tt


@pytest.fixture(scope="module")
def fetched():
  missing = [n for n in text.FETCHABLE if not os.path.exists(text.source_path(n))]
  if missing:
    try:
      text.fetch_text(missing, verbose=False)
    except (RuntimeError, OSError) as e:
      pytest.skip(f"could not fetch {missing}: {e}")


def _train_adam(task, lr, steps=50, seed=0):
  """optax Adam through learned_optimization's stateful interface; returns (losses, params, state)."""
  key = jax.random.PRNGKey(seed)
  params, state = task.init_with_state(key)
  opt = optax.adam(lr)
  opt_state = opt.init(params)

  @jax.jit
  def step(params, state, opt_state, key, batch):
    (loss, state), g = jax.value_and_grad(task.loss_with_state, has_aux=True)(
        params, state, key, batch)
    updates, opt_state = opt.update(g, opt_state, params)
    return optax.apply_updates(params, updates), state, opt_state, loss

  losses = []
  for _ in range(steps):
    key, sub = jax.random.split(key)
    params, state, opt_state, loss = step(params, state, opt_state, sub, next(task.datasets.train))
    losses.append(float(loss))
  assert np.isfinite(losses).all()
  return np.array(losses), params, state


def test_transformer_lm_learns_bytes(fetched):
  task = tt.TransformerLMTask("kjv", sequence_length=32, batch_size=8, hidden_size=32,
                              num_layers=1, num_heads=2, mlp_dim=64)
  # Untrained, next-byte cross-entropy is that of a near-uniform guess over 256 bytes.
  losses, _, _ = _train_adam(task, 3e-3)
  assert abs(losses[0] - np.log(256)) < 0.1
  assert losses[-10:].mean() < losses[0] - 1.5, losses[[0, -1]]


def test_lm_is_causal(fetched):
  task = tt.TransformerLMTask("austen", sequence_length=16, hidden_size=32, num_layers=2,
                              num_heads=2, mlp_dim=64)
  params = task.init(jax.random.PRNGKey(1))
  ids = next(task.datasets.train)["obs"]
  changed = np.where(np.arange(16) >= 10, 0, ids)
  apply = jax.jit(task.model.apply)
  a = apply({"params": params}, ids)
  b = apply({"params": params}, changed)
  np.testing.assert_allclose(a[:, :10], b[:, :10], atol=1e-5)  # the past ignores the future
  assert np.abs(np.asarray(a[:, 10:] - b[:, 10:])).max() > 1e-4


def test_bert_mlm_pretraining_learns(fetched):
  task = tt.BertMLMTask("austen", "bytes", sequence_length=32, batch_size=8, hidden_size=32,
                        num_layers=1, num_heads=2, intermediate_size=64)
  tokens = jnp.asarray(next(task.datasets.train)["obs"])
  inputs, weights = task.mask(jax.random.PRNGKey(0), jnp.tile(tokens, (64, 1)))
  sel = np.asarray(weights, bool)
  changed = np.asarray(inputs != jnp.tile(tokens, (64, 1)))
  assert 0.13 < sel.mean() < 0.17  # 15 % selected
  assert not changed[~sel].any()  # only selected positions are corrupted
  frac_mask = (np.asarray(inputs)[sel] == tt.BYTE_MASK_ID).mean()
  assert 0.75 < frac_mask < 0.85  # 80 % of them become [MASK]
  losses, _, _ = _train_adam(task, 3e-3)
  assert losses[-10:].mean() < losses[0] - 1.5, losses[[0, -1]]


def test_passages_are_real_labelled_text(fetched):
  ds = tt.passage_datasets("austen", batch_size=4, max_length=24, passage_words=12)
  splits = tt._passages("austen", 24, 12, tt.image_data._resolve(None))  # pylint: disable=protected-access
  counts = {s: np.bincount(y, minlength=6) for s, (_, _, y) in splits.items()}
  assert all((c > 0).all() for c in counts.values())  # every novel in every split
  tok = minilm.minilm_tokenizer()
  b = next(ds.train)
  assert b["input_ids"].shape == (4, 24) and (b["input_ids"][:, 0] == tok.cls_id).all()
  novels = text.austen_novels()
  for ids, mask, label in zip(b["input_ids"], b["attention_mask"], b["label"]):
    words = [tok.vocab[i] for i in ids[1:mask.sum() - 1]]
    start = " ".join(w for w in words[:3] if not w.startswith("##"))
    title = text.AUSTEN_TITLES[label]
    # The passage's first words occur in the novel it is labelled with.
    basic = " ".join(tok.basic_tokens(novels[title]))
    assert start in basic, (start, title)


def test_minilm_fine_tuning_learns_and_keeps_frozen_embeddings(fetched):
  task = tt.MiniLMFineTune("kjv_austen", num_layers=1, max_length=24, passage_words=12,
                           batch_size=8, freeze_embeddings=True)
  params, frozen = task.init_with_state(jax.random.PRNGKey(0))
  assert set(params["encoder"]) == {"embeddings_LayerNorm", "layer_0"}  # no embedding tables
  assert set(frozen) == set(tt._EMBEDDINGS)  # pylint: disable=protected-access
  before = jax.tree.map(np.array, frozen)
  losses, trained, state_after = _train_adam(task, 1e-3)
  assert losses[-10:].mean() < 0.6 * losses[0], losses[[0, -1]]
  assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(a, np.asarray(b)), before,
                                   state_after))
  pre = task.pretrained()
  assert not np.array_equal(np.asarray(trained["encoder"]["layer_0"]["query"]["kernel"]),
                            np.asarray(pre["layer_0"]["query"]["kernel"]))  # the body trains
  assert np.array_equal(np.asarray(pre["word_embeddings"]["embedding"]),
                        minilm.minilm_weights()["embeddings.word_embeddings.weight"])


def test_minilm_prompt_tuning_trains_only_the_prompt(fetched):
  task = tt.MiniLMPromptTuning("kjv_austen", num_prompts=4, num_layers=1, max_length=24,
                               passage_words=12, batch_size=8)
  params, frozen = task.init_with_state(jax.random.PRNGKey(0))
  assert jax.tree.structure(params) == jax.tree.structure({"prompt": 0})
  assert params["prompt"].shape == (4, 384)
  before = jax.tree.map(np.array, frozen)
  losses, trained, state_after = _train_adam(task, 1e-2)
  assert losses[-10:].mean() < 0.8 * losses[0], losses[[0, -1]]
  assert jax.tree.all(jax.tree.map(lambda a, b: np.array_equal(a, np.asarray(b)), before,
                                   state_after))
  assert not np.array_equal(np.asarray(trained["prompt"]), np.asarray(params["prompt"]))
  # The stateless loss (frozen weights as constants) gives the same number.
  batch = next(task.datasets.test)
  a = task.loss(trained, None, batch)
  b, _ = task.loss_with_state(trained, frozen, None, batch)
  np.testing.assert_allclose(float(a), float(b), rtol=1e-5)
