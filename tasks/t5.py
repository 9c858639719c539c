"""T5-style encoder-decoder (Raffel et al., 2020), span-corruption pre-training, soft prompt-tuning.

One flax model, ``T5``, from the tiny byte-level model pre-trained here to T5-XXL by its config
(``gin_configs/tasks/t5_*.gin``):

* RMSNorm (scale only): y = x / sqrt(mean(x^2) + eps) * w, before every sub-layer and at the end.
* Attention without biases, H heads of width d_kv (inner width H d_kv, may differ from d_model);
  a learned relative position bias b[bucket(j - i), h] added to the logits, one table per stack,
  shared by its layers; buckets as T5 (half exact, half logarithmic up to ``max_distance``;
  bidirectional in the encoder, causal in the decoder).
* Feed-forward: ReLU (T5 v1.0: wo relu(x wi)) or gated GELU (v1.1: wo (gelu(x wi_0) * x wi_1)).
* One shared token embedding [V, d]; output logits either tied (x d^-1/2 E^T, v1.0) or an untied
  ``lm_head`` [d, V] (v1.1).

Parameters (v1.0, tied, ReLU): V d + L_e (4 d D_a + 2 d F + 2 d) + L_d (8 d D_a + 2 d F + 3 d)
+ 2 (32 H + d) with D_a = H d_kv: 222,903,552 for T5-base (Hugging Face ``t5-base``).

Tokens here are UTF-8 bytes of the project's corpora (``mnemosyne_lopt.tasks.text``): ids 0..255,
``PAD`` = 256 (also the decoder's start token), ``EOS`` = 257, then ``num_sentinels`` sentinels.

Tasks (learned_optimization ``Task``, gin-configurable):

* ``T5SpanCorruption``: pre-training on byte windows of the KJV and Jane Austen by span corruption
  (15 % noise, mean span 3: each noise span becomes one sentinel in the input; the target lists
  sentinel, span, ..., EOS).  ``mnemosyne-t5-pretrain`` trains it with optax Adam and writes
  ``DIR/t5.msgpack``.
* ``T5PromptTune``: soft prompt-tuning (Lester et al., 2021) of a frozen pre-trained T5: P trained
  vectors [P, d] are prepended to the encoder's input embeddings; the only trained parameters are
  {"prompt": [P, d]}.  The task: which corpus a 64-byte passage comes from, answered by decoding
  the word "bible" or "novel" (then EOS).
"""

import argparse
import json
import os
import sys
import time
from typing import Any, Dict, Optional, Sequence, Tuple

import flax
import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

from mnemosyne_lopt.tasks import common
from mnemosyne_lopt.tasks import text
from mnemosyne_lopt.tasks.text import WindowIterator

PAD, EOS, SENTINEL0 = 256, 257, 258
CHECKPOINT_FILE = "t5.msgpack"
SHIPPED_CHECKPOINT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "checkpoints",
                                  "t5_tiny_kjv_austen.msgpack")
CLASS_WORDS = ("bible", "novel")  # KJV, Austen: equal lengths, so targets need no padding
CONFIG_KEYS = ("vocab_size", "d_model", "num_heads", "d_kv", "d_ff", "num_encoder_layers",
               "num_decoder_layers", "feed_forward", "tie_embeddings", "num_buckets",
               "max_distance")


def tiny_config(**overrides) -> Dict[str, Any]:
  config = dict(vocab_size=SENTINEL0 + 16, d_model=32, num_heads=2, d_kv=16, d_ff=64,
                num_encoder_layers=2, num_decoder_layers=2, feed_forward="relu",
                tie_embeddings=True, num_buckets=32, max_distance=128)
  config.update(overrides)
  return config


def relative_position_bucket(relative, bidirectional: bool, num_buckets: int, max_distance: int):
  """T5's bucket of relative position j - i (numpy int array in, int array out)."""
  n = -np.asarray(relative, np.int64)
  ret = np.zeros_like(n)
  if bidirectional:
    num_buckets //= 2
    ret += (n < 0) * num_buckets
    n = np.abs(n)
  else:
    n = np.maximum(n, 0)
  max_exact = num_buckets // 2
  large = max_exact + (np.log(np.maximum(n, 1) / max_exact) / np.log(max_distance / max_exact)
                       * (num_buckets - max_exact)).astype(np.int64)
  large = np.minimum(large, num_buckets - 1)
  return ret + np.where(n < max_exact, n, large)


class RMSNorm(nn.Module):
  eps: float = 1e-6

  @nn.compact
  def __call__(self, x):
    scale = self.param("scale", nn.initializers.ones, (x.shape[-1],))
    return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), -1, keepdims=True) + self.eps) * scale


class Attention(nn.Module):
  """softmax(q k^T / sqrt(d_kv) + bias + mask) v over H heads, no projection biases."""
  num_heads: int
  d_kv: int

  @nn.compact
  def __call__(self, x, memory, bias, mask):
    h, dk = self.num_heads, self.d_kv
    dense = lambda n, name: nn.Dense(n, use_bias=False, name=name,
                                     kernel_init=nn.initializers.normal(x.shape[-1] ** -0.5))
    q = dense(h * dk, "q")(x).reshape(x.shape[:2] + (h, dk))
    k = dense(h * dk, "k")(memory).reshape(memory.shape[:2] + (h, dk))
    v = dense(h * dk, "v")(memory).reshape(memory.shape[:2] + (h, dk))
    logits = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(dk)
    if bias is not None:
      logits = logits + bias
    logits = jnp.where(mask, logits, -1e9)
    out = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(logits, -1), v)
    return nn.Dense(x.shape[-1], use_bias=False, name="o",
                    kernel_init=nn.initializers.normal((h * dk) ** -0.5))(
                        out.reshape(x.shape[:2] + (h * dk,)))


class FeedForward(nn.Module):
  d_ff: int
  kind: str = "relu"

  @nn.compact
  def __call__(self, x):
    d = x.shape[-1]
    init = nn.initializers.normal(d ** -0.5)
    if self.kind == "relu":
      y = nn.relu(nn.Dense(self.d_ff, use_bias=False, name="wi", kernel_init=init)(x))
    elif self.kind == "gated_gelu":
      y = (nn.gelu(nn.Dense(self.d_ff, use_bias=False, name="wi_0", kernel_init=init)(x))
           * nn.Dense(self.d_ff, use_bias=False, name="wi_1", kernel_init=init)(x))
    else:
      raise ValueError(f"feed_forward must be 'relu' or 'gated_gelu', got {self.kind!r}.")
    return nn.Dense(d, use_bias=False, name="wo",
                    kernel_init=nn.initializers.normal(self.d_ff ** -0.5))(y)


class Stack(nn.Module):
  """Encoder (decoder=False) or decoder stack, with its relative position bias table."""
  config: Dict[str, Any]
  decoder: bool

  @nn.compact
  def __call__(self, x, self_mask, memory=None, cross_mask=None):
    c = self.config
    n = x.shape[1]
    rel = np.arange(n)[None, :] - np.arange(n)[:, None]
    buckets = relative_position_bucket(rel, not self.decoder, c["num_buckets"], c["max_distance"])
    table = self.param("relative_bias", nn.initializers.normal(0.1),
                       (c["num_buckets"], c["num_heads"]))
    bias = jnp.transpose(table[buckets], (2, 0, 1))[None]  # [1, H, n, n]
    layers = c["num_decoder_layers"] if self.decoder else c["num_encoder_layers"]
    for i in range(layers):
      y = RMSNorm(name=f"layer_{i}_ln_self")(x)
      x = x + Attention(c["num_heads"], c["d_kv"], name=f"layer_{i}_self")(y, y, bias, self_mask)
      if self.decoder:
        y = RMSNorm(name=f"layer_{i}_ln_cross")(x)
        x = x + Attention(c["num_heads"], c["d_kv"], name=f"layer_{i}_cross")(
            y, memory, None, cross_mask)
      y = RMSNorm(name=f"layer_{i}_ln_ff")(x)
      x = x + FeedForward(c["d_ff"], c["feed_forward"], name=f"layer_{i}_ff")(y)
    return RMSNorm(name="final_ln")(x)


class T5(nn.Module):
  """(encoder tokens [B, Ti], decoder input tokens [B, To], optional prompt [P, d]) -> logits.

  The prompt's P vectors are prepended to the encoder's token embeddings (always attended to);
  ``PAD`` tokens of the encoder input are masked out.
  """
  config: Dict[str, Any]

  @nn.compact
  def __call__(self, inputs, decoder_inputs, prompt=None):
    c = self.config
    embed = self.param("shared", nn.initializers.normal(1.0), (c["vocab_size"], c["d_model"]))
    x = embed[inputs]
    keep = inputs != PAD
    if prompt is not None:
      b = inputs.shape[0]
      x = jnp.concatenate([jnp.broadcast_to(prompt[None], (b,) + prompt.shape), x], axis=1)
      keep = jnp.concatenate([jnp.ones((b, prompt.shape[0]), bool), keep], axis=1)
    enc = Stack(c, decoder=False, name="encoder")(x, keep[:, None, None, :])
    n = decoder_inputs.shape[1]
    causal = jnp.tril(jnp.ones((n, n), bool))[None, None]
    dec = Stack(c, decoder=True, name="decoder")(embed[decoder_inputs], causal, enc,
                                                 keep[:, None, None, :])
    if c["tie_embeddings"]:
      return (dec * c["d_model"] ** -0.5) @ embed.T
    return nn.Dense(c["vocab_size"], use_bias=False, name="lm_head",
                    kernel_init=nn.initializers.normal(c["d_model"] ** -0.5))(dec)


def init_params(config: Dict[str, Any], key, input_length: int = 8, target_length: int = 4):
  x = jnp.zeros((1, input_length), jnp.int32)
  y = jnp.zeros((1, target_length), jnp.int32)
  return T5(config).init(key, x, y)["params"]


def shift_right(targets):
  """Decoder inputs: [PAD, t_0, ..., t_{n-2}] (teacher forcing)."""
  return jnp.concatenate([jnp.full(targets.shape[:1] + (1,), PAD, targets.dtype),
                          targets[:, :-1]], axis=1)


def sequence_loss(logits, targets):
  """Mean over non-PAD target tokens of -log softmax(logits)[target]."""
  logp = jax.nn.log_softmax(logits)
  nll = -jnp.take_along_axis(logp, targets[..., None], axis=-1)[..., 0]
  w = (targets != PAD).astype(nll.dtype)
  return jnp.sum(nll * w) / jnp.maximum(jnp.sum(w), 1.0)


# ----------------------------------------------------------------------------- span corruption


def span_corruption_lengths(length: int, noise_density: float = 0.15, mean_span: float = 3.0):
  """(noise tokens, spans, input length, target length) for windows of ``length`` bytes."""
  num_noise = int(np.clip(round(length * noise_density), 1, length - 1))
  num_spans = max(1, int(round(num_noise / mean_span)))
  return num_noise, num_spans, length - num_noise + num_spans, num_noise + num_spans + 1


def span_corrupt(tokens: np.ndarray, rng: np.random.Generator, noise_density: float = 0.15,
                 mean_span: float = 3.0) -> Tuple[np.ndarray, np.ndarray]:
  """T5's span corruption of one window: (input with sentinels, target sentinel+span... EOS).

  The noise positions are ``num_spans`` runs covering ``num_noise`` tokens; run lengths and the
  lengths of the kept runs between them are uniform random compositions; the window starts with
  a kept run.
  """
  length = len(tokens)
  num_noise, num_spans, _, _ = span_corruption_lengths(length, noise_density, mean_span)

  def composition(total, parts):
    cuts = np.sort(rng.choice(total - 1, parts - 1, replace=False) + 1) if parts > 1 else []
    return np.diff(np.concatenate([[0], cuts, [total]])).astype(int)

  noise_lens = composition(num_noise, num_spans)
  keep_lens = composition(length - num_noise, num_spans)
  inputs, targets, pos = [], [], 0
  for i in range(num_spans):
    inputs.extend(tokens[pos:pos + keep_lens[i]])
    pos += keep_lens[i]
    inputs.append(SENTINEL0 + i)
    targets.append(SENTINEL0 + i)
    targets.extend(tokens[pos:pos + noise_lens[i]])
    pos += noise_lens[i]
  targets.append(EOS)
  return np.asarray(inputs, np.int32), np.asarray(targets, np.int32)


class SpanCorruptionIterator:
  """Endless batches {"inputs": [B, Ti], "targets": [B, To]} of span-corrupted byte windows drawn
  from both corpora (a ``text.WindowIterator`` over the blocks of one split of each)."""

  def __init__(self, blocks, length: int, batch_size: int, seed: int):
    self._windows = WindowIterator(blocks, length + 1, batch_size, seed)
    self._rng = np.random.Generator(np.random.PCG64(seed + 1000))

  def __iter__(self):
    return self

  def __next__(self):
    w = next(self._windows)["obs"]
    pairs = [span_corrupt(row, self._rng) for row in w]
    return {"inputs": np.stack([p[0] for p in pairs]), "targets": np.stack([p[1] for p in pairs])}

  def get_state(self):
    return {"windows": self._windows.get_state(), "rng": self._rng.bit_generator.state}

  def set_state(self, state):
    self._windows.set_state(state["windows"])
    self._rng.bit_generator.state = state["rng"]


def _corpus_blocks(split: str, data_dir: Optional[str]):
  return {name: [text.encode_bytes(t) for _, t in text.text_splits(name, data_dir)[split]]
          for name in ("kjv", "austen")}


def span_corruption_datasets(length: int = 64, batch_size: int = 32, seed: int = 0,
                             data_dir: Optional[str] = None) -> datasets_base.Datasets:
  its = []
  for i, split in enumerate(text.SPLITS):
    blocks = _corpus_blocks(split, data_dir)
    its.append(SpanCorruptionIterator(blocks["kjv"] + blocks["austen"], length, batch_size,
                                      seed + i))
  _, _, ti, to = span_corruption_lengths(length)
  abstract = {"inputs": jax.ShapeDtypeStruct((batch_size, ti), jnp.int32),
              "targets": jax.ShapeDtypeStruct((batch_size, to), jnp.int32)}
  return datasets_base.Datasets(*its, extra_info={"vocab_size": SENTINEL0},
                                abstract_batch=abstract)


def _config_from(**sizes) -> Dict[str, Any]:
  return tiny_config(**{k: v for k, v in sizes.items() if v is not None})


@gin.configurable
class T5SpanCorruption(common.LazyDatasets, tasks_base.Task):
  """Span-corruption pre-training of a T5 on 64-byte windows of the KJV and Austen.

  Sizes (None: ``tiny_config``'s): vocab_size, d_model, num_heads, d_kv, d_ff,
  num_encoder_layers, num_decoder_layers, feed_forward ("relu" / "gated_gelu"), tie_embeddings.
  """

  def __init__(self, length: int = 64, batch_size: int = 32, seed: int = 0,
               data_dir: Optional[str] = None, **sizes):
    self.config = _config_from(**sizes)
    self.length, self.batch_size, self.seed, self.data_dir = length, batch_size, seed, data_dir
    self.model = T5(self.config)
    self._datasets = None
    self._name = f"T5SpanCorruption_d{self.config['d_model']}_L{self.config['num_encoder_layers']}"

  @property
  def name(self):
    return self._name

  def _make_datasets(self):
    return span_corruption_datasets(self.length, self.batch_size, self.seed, self.data_dir)

  def init(self, key):
    return init_params(self.config, key)

  def loss(self, params, key, data):
    del key
    logits = self.model.apply({"params": params}, data["inputs"], shift_right(data["targets"]))
    return sequence_loss(logits, data["targets"])


# ----------------------------------------------------------------------------- checkpoints


def save_checkpoint(path: str, config: Dict[str, Any], params) -> None:
  blob = flax.serialization.msgpack_serialize(
      {"config": json.dumps(config, sort_keys=True),
       "params": flax.serialization.to_state_dict(jax.device_get(params))})
  with open(path + ".tmp", "wb") as f:
    f.write(blob)
  os.replace(path + ".tmp", path)


def load_checkpoint(path: Optional[str] = None):
  """(config, params) of a ``mnemosyne-t5-pretrain`` checkpoint (file or folder); None: shipped."""
  path = SHIPPED_CHECKPOINT if path is None else path
  if os.path.isdir(path):
    path = os.path.join(path, CHECKPOINT_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"No T5 checkpoint at {path}: make one with `mnemosyne-t5-pretrain "
                            f"--out {os.path.dirname(path) or '.'}`.")
  with open(path, "rb") as f:
    try:
      raw = flax.serialization.msgpack_restore(f.read())
      config = json.loads(raw["config"])
    except Exception as e:  # pylint: disable=broad-except
      raise ValueError(f"{path} is not a T5 checkpoint written by mnemosyne-t5-pretrain ({e}); "
                       "write it again with that command.") from e
  model_config = {k: config[k] for k in CONFIG_KEYS}
  template = jax.eval_shape(lambda: init_params(model_config, jax.random.PRNGKey(0)))
  params = flax.serialization.from_state_dict(template, raw["params"])
  return config, jax.tree_util.tree_map(jnp.asarray, params)


# ----------------------------------------------------------------------------- prompt-tuning


def class_targets() -> np.ndarray:
  """[2, 6] int32: the bytes of "bible" and "novel", each followed by EOS."""
  return np.stack([np.concatenate([text.encode_bytes(w), [EOS]]) for w in CLASS_WORDS]
                  ).astype(np.int32)


class PassageIterator:
  """Batches {"inputs": [B, L] bytes of a passage, "targets": [B, 6] class word + EOS, "label"}:
  each example is a KJV (label 0, "bible") or Austen (label 1, "novel") window, chosen uniformly."""

  def __init__(self, blocks: Dict[str, Sequence[np.ndarray]], length: int, batch_size: int,
               seed: int):
    self._its = [WindowIterator(blocks[n], length + 1, batch_size, seed + 10 * k)
                 for k, n in enumerate(("kjv", "austen"))]
    self._rng = np.random.Generator(np.random.PCG64(seed))
    self._words = class_targets()

  def __iter__(self):
    return self

  def __next__(self):
    kjv, austen = (next(it)["obs"] for it in self._its)
    label = self._rng.integers(0, 2, size=len(kjv)).astype(np.int32)
    inputs = np.where(label[:, None] == 0, kjv, austen).astype(np.int32)
    return {"inputs": inputs, "targets": self._words[label], "label": label}

  def get_state(self):
    return {"its": [it.get_state() for it in self._its], "rng": self._rng.bit_generator.state}

  def set_state(self, state):
    for it, s in zip(self._its, state["its"]):
      it.set_state(s)
    self._rng.bit_generator.state = state["rng"]


def passage_datasets(length: int = 64, batch_size: int = 32, seed: int = 0,
                     data_dir: Optional[str] = None) -> datasets_base.Datasets:
  its = [PassageIterator(_corpus_blocks(s, data_dir), length, batch_size, seed + i)
         for i, s in enumerate(text.SPLITS)]
  abstract = {"inputs": jax.ShapeDtypeStruct((batch_size, length), jnp.int32),
              "targets": jax.ShapeDtypeStruct((batch_size, len(CLASS_WORDS[0]) + 1), jnp.int32),
              "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)}
  return datasets_base.Datasets(*its, extra_info={"classes": CLASS_WORDS}, abstract_batch=abstract)


@gin.configurable
class T5PromptTune(common.LazyDatasets, tasks_base.Task):
  """Soft prompt-tuning of a frozen T5: is a passage from the KJV ("bible") or Austen ("novel")?

  Trained parameters: {"prompt": [prompt_length, d_model]}, initialised (Lester et al., 2021) as
  the embeddings of random byte tokens.  The T5 is a constant of the task (never a parameter), so
  no optimizer sees it.

  Args:
    checkpoint: ``mnemosyne-t5-pretrain`` output (folder or file); None: the shipped tiny T5.
    prompt_length: P.
    length, batch_size, seed, data_dir: of the passages.
    sizes: model config (paper-scale configs).  With sizes the checkpoint is read only when the
      frozen weights are needed (``loss``); with sizes and no checkpoint the task has shapes
      (``frozen_param_shapes``, ``init`` with N(0, 1) prompts) but its loss needs weights.
  """

  def __init__(self, checkpoint: Optional[str] = None, prompt_length: int = 8, length: int = 64,
               batch_size: int = 32, seed: int = 0, data_dir: Optional[str] = None,
               **sizes):
    self.checkpoint, self.prompt_length = checkpoint, prompt_length
    self.length, self.batch_size, self.seed, self.data_dir = length, batch_size, seed, data_dir
    self._frozen = None
    self._sized = bool(sizes)
    if sizes:
      self.config = _config_from(**sizes)
    else:
      config, self._frozen = load_checkpoint(checkpoint)
      self.config = {k: config[k] for k in CONFIG_KEYS}
    self.model = T5(self.config)
    self._datasets = None
    self._name = f"T5PromptTune_d{self.config['d_model']}_P{prompt_length}"

  @property
  def name(self):
    return self._name

  @property
  def frozen(self):
    """The frozen T5 parameters (read from the checkpoint on first use)."""
    if self._frozen is None:
      if self.checkpoint is None and self._sized:
        raise FileNotFoundError(
            f"This {self.config['d_model']}-wide T5 has no weights here: set `checkpoint` to a "
            "pre-trained model of these sizes (`mnemosyne-t5-pretrain --out DIR` makes small ones).")
      config, self._frozen = load_checkpoint(self.checkpoint)
      if any(config[k] != self.config[k] for k in CONFIG_KEYS):
        raise ValueError("The T5 checkpoint's sizes differ from this task's configuration; drop "
                         "the size arguments or point `checkpoint` at a matching model.")
    return self._frozen

  def frozen_param_shapes(self):
    return jax.eval_shape(lambda: init_params(self.config, jax.random.PRNGKey(0)))

  def _make_datasets(self):
    return passage_datasets(self.length, self.batch_size, self.seed, self.data_dir)

  def init(self, key):
    if self.checkpoint is None and self._sized:
      # A paper-scale config without weights here: N(0, 1) prompts, T5's embedding scale.
      return {"prompt": jax.random.normal(key, (self.prompt_length, self.config["d_model"]))}
    ids = jax.random.randint(key, (self.prompt_length,), 0, 256)
    return {"prompt": self.frozen["shared"][ids]}

  def logits(self, params, inputs, decoder_inputs):
    frozen = jax.lax.stop_gradient(self.frozen)
    return self.model.apply({"params": frozen}, inputs, decoder_inputs, prompt=params["prompt"])

  def loss(self, params, key, data):
    del key
    return sequence_loss(self.logits(params, data["inputs"], shift_right(data["targets"])),
                         data["targets"])

  def accuracy(self, params, data):
    """Rank classification: the class word with the higher log-likelihood."""
    words = jnp.asarray(class_targets())
    scores = []
    for w in words:
      t = jnp.broadcast_to(w, (data["inputs"].shape[0], w.shape[0]))
      logp = jax.nn.log_softmax(self.logits(params, data["inputs"], shift_right(t)))
      scores.append(jnp.sum(jnp.take_along_axis(logp, t[..., None], -1)[..., 0], -1))
    return jnp.mean(jnp.argmax(jnp.stack(scores, -1), -1) == data["label"])


# ----------------------------------------------------------------------------- pre-training


train_adam = common.train_adam


def pretrain(out: str, steps: int = 2000, learning_rate: float = 1e-3, batch_size: int = 32,
             length: int = 64, seed: int = 0, data_dir: Optional[str] = None, command: str = "",
             log_every: int = 0, **sizes) -> Dict[str, Any]:
  """Span-corruption pre-training with Adam; writes ``out/t5.msgpack`` and ``out/pretrain.json``."""
  task = T5SpanCorruption(length, batch_size, seed, data_dir, **sizes)
  start = time.time()
  params, losses = train_adam(task, steps, learning_rate, seed, log_every)
  test_loss = jax.jit(task.loss)
  valid = [float(test_loss(params, None, next(task.datasets.test))) for _ in range(10)]
  os.makedirs(out, exist_ok=True)
  config = dict(task.config, corpus="kjv+austen", length=length)
  save_checkpoint(os.path.join(out, CHECKPOINT_FILE), config, params)
  report = {"command": command, "config": config, "steps": steps, "learning_rate": learning_rate,
            "batch_size": batch_size, "seed": seed,
            "num_params": int(sum(np.prod(p.shape) for p in jax.tree_util.tree_leaves(params))),
            "train_loss_first_50": float(np.mean(losses[:50])),
            "train_loss_last_50": float(np.mean(losses[-50:])),
            "test_loss_10_batches": float(np.mean(valid)), "seconds": round(time.time() - start, 1),
            "checkpoint_bytes": os.path.getsize(os.path.join(out, CHECKPOINT_FILE))}
  with open(os.path.join(out, "pretrain.json"), "w") as f:
    json.dump(report, f, indent=2)
  return report


def main(argv: Optional[Sequence[str]] = None) -> int:
  """Console script ``mnemosyne-t5-pretrain``."""
  p = argparse.ArgumentParser(prog="mnemosyne-t5-pretrain", description="Pre-train a byte-level "
                              "T5 by span corruption on the KJV and Austen; save its checkpoint.")
  p.add_argument("--out", required=True)
  p.add_argument("--steps", type=int, default=2000)
  p.add_argument("--learning_rate", type=float, default=1e-3)
  p.add_argument("--batch_size", type=int, default=32)
  p.add_argument("--length", type=int, default=64)
  p.add_argument("--seed", type=int, default=0)
  for k in ("d_model", "num_heads", "d_kv", "d_ff", "num_encoder_layers", "num_decoder_layers"):
    p.add_argument(f"--{k}", type=int, default=None)
  p.add_argument("--feed_forward", default=None, choices=("relu", "gated_gelu"))
  p.add_argument("--data_dir", default=None)
  args = p.parse_args(argv)
  sizes = {k: getattr(args, k) for k in ("d_model", "num_heads", "d_kv", "d_ff",
                                         "num_encoder_layers", "num_decoder_layers",
                                         "feed_forward")}
  command = "mnemosyne-t5-pretrain " + " ".join(sys.argv[1:] if argv is None else argv)
  try:
    report = pretrain(args.out, args.steps, args.learning_rate, args.batch_size, args.length,
                      args.seed, args.data_dir, command, max(1, args.steps // 10), **sizes)
  except (FileNotFoundError, ValueError) as e:
    print(f"mnemosyne-t5-pretrain: error: {e}", file=sys.stderr)
    return 1
  print(json.dumps(report, indent=2))
  return 0


if __name__ == "__main__":
  sys.exit(main())
