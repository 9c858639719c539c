"""Text tasks on the KJV and Jane Austen (learned_optimization ``Task`` / ``TaskFamily``, gin).

* ``TransformerLMTask``: a decoder-only (GPT-style, pre-LayerNorm) Transformer language model on
  the bytes of a corpus; loss = mean next-byte cross-entropy in nats (/ ln 2 = bits per byte).
  ``TransformerLMFamily``: one shape, each task samples its initial-weight scale.
* ``BertMLMTask``: BERT masked-LM pre-training from scratch (``bert.BertEncoder`` + ``BertMLMHead``,
  sizes in gin) on byte windows (vocabulary 256 bytes + [MASK]) or WordPiece windows
  (MiniLM's vocabulary).  Masking (Devlin et al. 2019): each position is selected with
  probability ``mask_rate``; a selected token becomes [MASK] (80 %), a random token (10 %) or stays
  (10 %); loss = mean cross-entropy over the selected positions.  The mask is drawn from the
  task's ``key``.
* ``MiniLMFineTune``: the pretrained all-MiniLM-L6-v2 (optionally its first ``num_layers``) with a
  linear head on its mean-pooled output, fine-tuned on ``passage_datasets`` (which Austen novel a
  passage comes from, 6 classes; or KJV vs Austen, 2 classes).  ``freeze_embeddings`` keeps the
  embedding tables out of the trained parameters.
* ``MiniLMPromptTuning``: soft prompt-tuning of the frozen MiniLM on the same data: the trained
  parameters are only {"prompt": [P, 384]}, prepended to the word embeddings; the class scores are
  the cosine similarities, times ``1 / temperature``, between the passage's sentence embedding and
  the frozen embeddings of the class names ("Sense and Sensibility", ...), so no head trains.
  The encoder's weights are constants of the task, not parameters.

``passage_datasets(task, ...)``: learned_optimization Datasets of {"input_ids": int32 [B, L],
"attention_mask": int32 [B, L], "label": int32 [B]}: passages of ``passage_words`` consecutive
words (BERT basic tokens) inside one block of the corpus splits of ``text.text_splits`` (so
train / inner_valid / outer_valid / test passages come from disjoint stretches of text), WordPiece
tokenised as ``[CLS] ids [SEP]`` truncated / padded to L.
"""

import functools
import os
from typing import Dict, Optional, Sequence, Tuple

import flax.linen as nn
import gin
import jax
import jax.numpy as jnp
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks.datasets import base as datasets_base
import numpy as np

from mnemosyne_lopt.tasks import bert
from mnemosyne_lopt.tasks import common
from mnemosyne_lopt.tasks import datasets as image_data
from mnemosyne_lopt.tasks import minilm
from mnemosyne_lopt.tasks import text
from mnemosyne_lopt.tasks.batching import BatchIterator

BYTE_MASK_ID = 256  # [MASK] of the byte vocabulary (ids 0..255 are bytes)
CLASSIFICATION_TASKS = {
    "austen": tuple(zip(text.AUSTEN_TITLES, ("Sense and Sensibility", "Pride and Prejudice",
                                             "Mansfield Park", "Emma", "Northanger Abbey",
                                             "Persuasion"))),
    "kjv_austen": (("KJV", "The King James Bible"), ("Austen", "A novel by Jane Austen")),
}


def _cross_entropy(logits, labels, weights=None):
  """Mean of -log softmax(logits)[label] (weighted mean when ``weights`` is given)."""
  logp = jax.nn.log_softmax(logits.astype(jnp.float32))
  nll = -jnp.take_along_axis(logp, labels[..., None], axis=-1)[..., 0]
  if weights is None:
    return jnp.mean(nll)
  return jnp.sum(nll * weights) / jnp.maximum(jnp.sum(weights), 1.0)


# ----------------------------------------------------------------------------- decoder LM


class TransformerLM(nn.Module):
  """Decoder-only Transformer: logits [B, T, V] for ids [B, T].

  x_0 = E[ids] + P[0..T-1];  per layer  x += MHA_causal(LN(x)),  x += W_2 GELU(W_1 LN(x));
  logits = LN(x) W_out + b.  Attention of position t covers positions <= t only.

  ``init_style="gpt"``: every kernel, the embedding and the positions drawn N(0, (0.02 init_scale)^2);
  ``init_style="flax"``: flax's own defaults (``nn.Dense``'s LeCun normal kernels, ``nn.Embed``'s
  unit-variance embedding; the positions like the embedding), times ``init_scale``.
  """
  vocab_size: int = 256
  hidden_size: int = 64
  num_layers: int = 2
  num_heads: int = 4
  mlp_dim: int = 256
  max_length: int = 1024
  init_scale: float = 1.0
  init_style: str = "gpt"

  @nn.compact
  def __call__(self, ids):
    b, t = ids.shape
    d, nh = self.hidden_size, self.num_heads
    if d % nh:
      raise ValueError(f"hidden_size {d} is not divisible by num_heads {nh}.")
    if self.init_style == "gpt":
      init = embed_init = nn.initializers.normal(0.02 * self.init_scale)
    elif self.init_style == "flax":
      init = nn.initializers.variance_scaling(self.init_scale ** 2, "fan_in", "truncated_normal")
      embed_init = nn.initializers.variance_scaling(self.init_scale ** 2, "fan_in", "normal",
                                                    out_axis=0)
    else:
      raise ValueError(f"init_style must be 'gpt' or 'flax', got {self.init_style!r}.")
    x = nn.Embed(self.vocab_size, d, embedding_init=embed_init, name="embed")(ids)
    pos = self.param("position", embed_init, (self.max_length, d))
    x = x + pos[:t][None]
    causal = jnp.tril(jnp.ones((t, t), bool))
    for i in range(self.num_layers):
      h = nn.LayerNorm(name=f"ln_attn_{i}")(x)
      q, k, v = (nn.Dense(d, kernel_init=init, name=f"{n}_{i}")(h).reshape(b, t, nh, d // nh)
                 for n in ("query", "key", "value"))
      s = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(d // nh)
      s = jnp.where(causal[None, None], s, -1e9)
      a = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(s, -1), v).reshape(b, t, d)
      x = x + nn.Dense(d, kernel_init=init, name=f"attn_out_{i}")(a)
      h = nn.LayerNorm(name=f"ln_mlp_{i}")(x)
      h = nn.Dense(self.mlp_dim, kernel_init=init, name=f"mlp_in_{i}")(h)
      x = x + nn.Dense(d, kernel_init=init, name=f"mlp_out_{i}")(jax.nn.gelu(h))
    x = nn.LayerNorm(name="ln_final")(x)
    return nn.Dense(self.vocab_size, kernel_init=init, name="logits")(x)


@gin.configurable
class TransformerLMTask(common.LazyDatasets, tasks_base.Task):
  """Byte-level decoder LM on ``corpus`` ("kjv" or "austen"); batches of ``text.text_datasets``.

  Args:
    corpus: the text.  sequence_length: T.  batch_size, seed: of the data iterators.
    hidden_size, num_layers, num_heads, mlp_dim: the model (``TransformerLM``).
    init_scale: multiplies the standard deviation 0.02 of the initial weights.
    init_style: "gpt" (N(0, 0.02^2) everywhere) or "flax" (flax's default initialisers), see TransformerLM.
    datasets: share data iterators (a task family).
  """

  def __init__(self, corpus: str = "kjv", sequence_length: int = 64, batch_size: int = 8,
               hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, mlp_dim: int = 256,
               init_scale=1.0, seed: int = 0, data_dir: Optional[str] = None, datasets=None,
               init_style: str = "gpt"):
    if corpus not in text.TEXT_NAMES:
      raise ValueError(f"corpus must be one of {text.TEXT_NAMES}, got {corpus!r}.")
    self.corpus, self.sequence_length, self.batch_size = corpus, sequence_length, batch_size
    self.seed, self.data_dir = seed, data_dir
    self.model = TransformerLM(text.VOCAB_SIZE, hidden_size, num_layers, num_heads, mlp_dim,
                               max_length=sequence_length, init_scale=init_scale, init_style=init_style)
    self._datasets = datasets
    self._name = (f"TransformerLM_{corpus}_T{sequence_length}_D{hidden_size}_L{num_layers}"
                  f"_H{num_heads}_F{mlp_dim}" + ("_flaxinit" if init_style == "flax" else ""))

  @property
  def name(self):
    return self._name

  def _make_datasets(self):
    return text.text_datasets(self.corpus, self.batch_size, self.sequence_length, self.seed,
                              self.data_dir)

  def init(self, key):
    return self.model.init(key, jnp.zeros((1, self.sequence_length), jnp.int32))["params"]

  def loss(self, params, key, data):
    del key
    return _cross_entropy(self.model.apply({"params": params}, data["obs"]), data["target"])


@gin.configurable
class TransformerLMFamily(tasks_base.TaskFamily):
  """Byte LMs of one shape on one corpus; each task samples its init scale (log-uniform)."""

  def __init__(self, corpus: str = "kjv", sequence_length: int = 64, batch_size: int = 8,
               hidden_size: int = 64, num_layers: int = 2, num_heads: int = 4, mlp_dim: int = 256,
               init_scale_range=(0.5, 2.0), seed: int = 0, data_dir: Optional[str] = None):
    self.kwargs = dict(corpus=corpus, sequence_length=sequence_length, batch_size=batch_size,
                       hidden_size=hidden_size, num_layers=num_layers, num_heads=num_heads,
                       mlp_dim=mlp_dim, seed=seed, data_dir=data_dir)
    self.init_scale_range = tuple(init_scale_range)
    self.datasets = text.text_datasets(corpus, batch_size, sequence_length, seed, data_dir)
    self._name = f"TransformerLMFamily_{corpus}_T{sequence_length}_D{hidden_size}_L{num_layers}"

  def sample(self, key):
    lo, hi = np.log(self.init_scale_range[0]), np.log(self.init_scale_range[1])
    return {"init_scale": jnp.exp(jax.random.uniform(key, (), minval=lo, maxval=hi))}

  def task_fn(self, cfg):
    return TransformerLMTask(init_scale=cfg["init_scale"], datasets=self.datasets, **self.kwargs)


# ----------------------------------------------------------------------------- WordPiece data


def _wordpiece_words(tok: minilm.WordPieceTokenizer, block: str):
  """WordPiece id tuples of the basic tokens of a block."""
  return [tok.word_ids(w) for w in tok.basic_tokens(block)]


@functools.lru_cache(maxsize=4)
def wordpiece_split_ids(corpus: str, folder: str) -> Dict[str, Tuple[np.ndarray, ...]]:
  """split -> WordPiece ids (int32) of each block of ``text.text_splits(corpus)``."""
  tok = minilm.minilm_tokenizer(folder)
  out = {}
  for split, blocks in text.text_splits(corpus, folder).items():
    out[split] = tuple(np.array([i for w in _wordpiece_words(tok, b) for i in w], np.int32)
                       for _, b in blocks)
  return out


@gin.configurable
def wordpiece_datasets(corpus: str = "austen", batch_size: int = 8, sequence_length: int = 64,
                       seed: int = 0, data_dir: Optional[str] = None) -> datasets_base.Datasets:
  """As ``text.text_datasets`` but with MiniLM's WordPiece ids (vocabulary 30,522) as tokens."""
  folder = image_data._resolve(data_dir)  # pylint: disable=protected-access
  splits = wordpiece_split_ids(corpus, folder)
  its = {s: text.WindowIterator(splits[s], sequence_length + 1, batch_size, seed + i)
         for i, s in enumerate(text.SPLITS)}
  spec = jax.ShapeDtypeStruct((batch_size, sequence_length), jnp.int32)
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                extra_info={"vocab_size": len(minilm.minilm_tokenizer(folder).vocab)},
                                abstract_batch={"obs": spec, "target": spec})


_DERIVED_VERSION = 1  # bump when the passage construction changes


@functools.lru_cache(maxsize=8)
def _passages(task: str, max_length: int, passage_words: int, folder: str):
  """split -> (input_ids [N, L], attention_mask [N, L], labels [N]), read-only.

  Built once from the sources and kept in FOLDER/derived/ (rebuilt when missing).
  """
  if task not in CLASSIFICATION_TASKS:
    raise ValueError(f"Unknown classification task {task!r}; choose one of "
                     f"{', '.join(CLASSIFICATION_TASKS)}.")
  path = os.path.join(folder, "derived", f"passages_{task}_L{max_length}_W{passage_words}"
                      f"_v{_DERIVED_VERSION}.npz")
  if os.path.exists(path):
    with np.load(path) as f:
      out = {s: (f[f"{s}_ids"], f[f"{s}_ids"] != 0, f[f"{s}_labels"]) for s in text.SPLITS}
    out = {s: (x, m.astype(np.int32), y) for s, (x, m, y) in out.items()}
  else:
    out = _build_passages(task, max_length, passage_words, folder)
    try:
      os.makedirs(os.path.dirname(path), exist_ok=True)
      partial = f"{path}.{os.getpid()}.partial.npz"
      np.savez(partial, **{f"{s}_ids": x for s, (x, _, _) in out.items()},
               **{f"{s}_labels": y for s, (_, _, y) in out.items()})
      os.replace(partial, path)
    except OSError:
      pass  # a read-only cache: build again next time
  for arrays in out.values():
    for a in arrays:
      a.flags.writeable = False
  return out


def _build_passages(task: str, max_length: int, passage_words: int, folder: str):
  tok = minilm.minilm_tokenizer(folder)
  sources = [("austen", None)] if task == "austen" else [("kjv", 0), ("austen", 1)]
  out = {}
  for split in text.SPLITS:
    rows, labels = [], []
    for corpus, label in sources:
      for group, block in text.text_splits(corpus, folder)[split]:
        words = _wordpiece_words(tok, block)
        for a in range(0, len(words) - passage_words + 1, passage_words):
          ids = [i for w in words[a:a + passage_words] for i in w][:max_length - 2]
          rows.append([tok.cls_id] + ids + [tok.sep_id])
          labels.append(group if label is None else label)
    ids = np.full((len(rows), max_length), tok.pad_id, np.int32)
    for n, r in enumerate(rows):
      ids[n, :len(r)] = r
    out[split] = (ids, (ids != tok.pad_id).astype(np.int32), np.asarray(labels, np.int32))
  return out


@gin.configurable
def passage_datasets(task: str = "austen", batch_size: int = 16, max_length: int = 64,
                     passage_words: int = 32, seed: int = 0,
                     data_dir: Optional[str] = None) -> datasets_base.Datasets:
  """learned_optimization Datasets of labelled passages (see the module docstring).

  Batches: {"input_ids": int32 [B, L], "attention_mask": int32 [B, L], "label": int32 [B]}; the
  passages of each split are fixed, batches sample them (``BatchIterator``, split i seed + i).
  """
  folder = image_data._resolve(data_dir)  # pylint: disable=protected-access
  splits = _passages(task, max_length, passage_words, folder)
  its = {s: BatchIterator({"input_ids": x, "attention_mask": m, "label": y}, batch_size, seed + i)
         for i, (s, (x, m, y)) in enumerate(splits.items())}
  spec = jax.ShapeDtypeStruct((batch_size, max_length), jnp.int32)
  return datasets_base.Datasets(
      its["train"], its["inner_valid"], its["outer_valid"], its["test"],
      extra_info={"num_classes": len(CLASSIFICATION_TASKS[task]),
                  "classes": [c for c, _ in CLASSIFICATION_TASKS[task]]},
      abstract_batch={"input_ids": spec, "attention_mask": spec,
                      "label": jax.ShapeDtypeStruct((batch_size,), jnp.int32)})


# ----------------------------------------------------------------------------- BERT MLM


@gin.configurable
class BertMLMTask(common.LazyDatasets, tasks_base.Task):
  """BERT masked-LM pre-training from scratch on a corpus (see the module docstring).

  Args:
    corpus: "kjv" or "austen".  tokens: "bytes" (vocabulary 257: bytes + [MASK]) or "wordpiece"
      (MiniLM's 30,522).  sequence_length: L.  batch_size, seed: of the data.
    hidden_size, num_layers, num_heads, intermediate_size: ``bert.BertEncoder`` sizes
      (BERT-base: 768, 12, 12, 3072; BERT-large: 1024, 24, 16, 4096).
    max_position_embeddings: positions (default: sequence_length).
    vocab_size: None = that of ``tokens``.  mask_rate: selection probability (0.15).
  """

  def __init__(self, corpus: str = "austen", tokens: str = "bytes", sequence_length: int = 64,
               batch_size: int = 8, hidden_size: int = 64, num_layers: int = 2,
               num_heads: int = 4, intermediate_size: int = 256,
               max_position_embeddings: Optional[int] = None, vocab_size: Optional[int] = None,
               mask_rate: float = 0.15, seed: int = 0, data_dir: Optional[str] = None):
    if tokens not in ("bytes", "wordpiece"):
      raise ValueError(f"tokens must be 'bytes' or 'wordpiece', got {tokens!r}.")
    self.corpus, self.tokens, self.sequence_length = corpus, tokens, sequence_length
    self.batch_size, self.seed, self.data_dir, self.mask_rate = batch_size, seed, data_dir, mask_rate
    if vocab_size is None:
      vocab_size = 257 if tokens == "bytes" else 30522
    self.vocab_size = vocab_size
    # [MASK]: 256 for bytes, 103 in the WordPiece vocabulary; random replacements are real tokens.
    self.mask_id = BYTE_MASK_ID if tokens == "bytes" else 103
    self.num_real = 256 if tokens == "bytes" else vocab_size
    self.config = dict(vocab_size=vocab_size, hidden_size=hidden_size, num_layers=num_layers,
                       num_heads=num_heads, intermediate_size=intermediate_size,
                       max_position_embeddings=max_position_embeddings or sequence_length,
                       type_vocab_size=2)
    self.encoder = bert.BertEncoder(**self.config)
    self.head = bert.BertMLMHead()
    self._datasets = None
    self._name = (f"BertMLM_{corpus}_{tokens}_L{sequence_length}_H{hidden_size}_N{num_layers}"
                  f"_A{num_heads}_I{intermediate_size}")

  @property
  def name(self):
    return self._name

  def _make_datasets(self):
    make = text.text_datasets if self.tokens == "bytes" else wordpiece_datasets
    return make(self.corpus, self.batch_size, self.sequence_length, self.seed, self.data_dir)

  def init(self, key):
    k1, k2 = jax.random.split(key)
    ids = jnp.zeros((1, self.sequence_length), jnp.int32)
    enc = self.encoder.init(k1, ids)["params"]
    h = jnp.zeros((1, self.sequence_length, self.config["hidden_size"]))
    head = self.head.init(k2, h, enc["word_embeddings"]["embedding"])["params"]
    return {"encoder": enc, "mlm_head": head}

  def mask(self, key, tokens):
    """(corrupted inputs, selected positions as float weights) of BERT's 80/10/10 masking."""
    k1, k2, k3 = jax.random.split(key, 3)
    selected = jax.random.bernoulli(k1, self.mask_rate, tokens.shape)
    u = jax.random.uniform(k2, tokens.shape)
    random_tokens = jax.random.randint(k3, tokens.shape, 0, self.num_real)
    corrupted = jnp.where(u < 0.8, self.mask_id, jnp.where(u < 0.9, random_tokens, tokens))
    return jnp.where(selected, corrupted, tokens), selected.astype(jnp.float32)

  def loss(self, params, key, data):
    tokens = data["obs"]
    inputs, weights = self.mask(key, tokens)
    h = self.encoder.apply({"params": params["encoder"]}, inputs)
    logits = self.head.apply({"params": params["mlm_head"]}, h,
                             params["encoder"]["word_embeddings"]["embedding"])
    return _cross_entropy(logits, tokens, weights)


# ----------------------------------------------------------------------------- MiniLM tasks


class _MiniLMTask(common.LazyDatasets, tasks_base.Task):
  """Shared by fine-tuning and prompt-tuning: data, the (possibly sliced) pretrained encoder.

  Frozen weights are learned_optimization *model state*, not parameters:
  ``init_with_state(key)`` -> (trainable params, frozen weights) and
  ``loss_with_state(params, frozen, key, data)`` -> (loss, frozen) returns them untouched, so
  optimizers (and meta-training's unrolls) never see or change them, and jit receives them as
  arguments rather than as 60 MB of compile-time constants.  ``init`` / ``loss`` give the same
  numbers with the frozen weights as constants (convenient, slower to compile).
  """

  def __init__(self, task, num_layers, max_length, passage_words, batch_size, seed, data_dir):
    if task not in CLASSIFICATION_TASKS:
      raise ValueError(f"task must be one of {', '.join(CLASSIFICATION_TASKS)}, got {task!r}.")
    self.task, self.max_length, self.passage_words = task, max_length, passage_words
    self.batch_size, self.seed, self.data_dir = batch_size, seed, data_dir
    self.num_classes = len(CLASSIFICATION_TASKS[task])
    self.config = _minilm_config(data_dir, num_layers)
    self.num_layers = self.config["num_layers"]
    self.encoder = bert.BertEncoder(**self.config)
    self._datasets = None

  def _make_datasets(self):
    return passage_datasets(self.task, self.batch_size, self.max_length, self.passage_words,
                            self.seed, self.data_dir)

  def pretrained(self):
    """The pretrained encoder parameters (cached per process)."""
    return _pretrained(self.data_dir, self.num_layers)

  def frozen_params(self):
    raise NotImplementedError(f"{type(self).__name__} must define frozen_params.")

  def init_with_state(self, key):
    return self.init(key), self.frozen_params()

  def loss_with_state(self, params, state, key, data):
    return self._loss(params, state, data), state

  def loss_with_state_and_aux(self, params, state, key, data):
    return self._loss(params, state, data), state, {}

  def loss(self, params, key, data):
    del key
    return self._loss(params, self.frozen_params(), data)

  def _loss(self, params, frozen, data):
    return _cross_entropy(self.logits(params, data, frozen), data["label"])

  def accuracy(self, params, data, frozen=None):
    frozen = self.frozen_params() if frozen is None else frozen
    return jnp.mean(jnp.argmax(self.logits(params, data, frozen), -1) == data["label"])


def _minilm_config(data_dir, num_layers):
  try:
    return minilm.bert_config(data_dir, num_layers)
  except FileNotFoundError:
    # Shapes without the files (mnemosyne-tasks list on a machine without the model): MiniLM's
    # published configuration; the weights themselves still need `mnemosyne-data fetch`.
    return {"vocab_size": 30522, "hidden_size": 384, "num_layers": num_layers or 6,
            "num_heads": 12, "intermediate_size": 1536, "max_position_embeddings": 512,
            "type_vocab_size": 2, "layer_norm_eps": 1e-12}


@functools.lru_cache(maxsize=4)
def _pretrained(data_dir, num_layers):
  return jax.tree.map(jnp.asarray, minilm.load_minilm_params(data_dir, num_layers))


def _tracing() -> bool:
  """Whether we are inside a jit / eval_shape trace."""
  return isinstance(jnp.zeros(()), jax.core.Tracer)


_EMBEDDINGS = ("word_embeddings", "position_embeddings", "token_type_embeddings")


@gin.configurable
class MiniLMFineTune(_MiniLMTask):
  """Fine-tuning all-MiniLM-L6-v2 with a linear head on its mean-pooled output.

  Parameters: {"encoder": pretrained (without the embedding tables when ``freeze_embeddings``),
  "head": {"kernel": [384, K] ~ N(0, 0.02^2), "bias": zeros [K]}}; logits = mean_pool(h) W + b.
  Frozen (model state): the embedding tables when ``freeze_embeddings``, else {}.

  Args:
    task: "austen" (6 novels) or "kjv_austen".  num_layers: keep the first layers (None: 6).
    max_length: L tokens.  passage_words: words per passage.  batch_size, seed: of the data.
    freeze_embeddings: word / position / token-type embeddings stay fixed (not parameters).
  """

  def __init__(self, task: str = "austen", num_layers: Optional[int] = None, max_length: int = 64,
               passage_words: int = 32, batch_size: int = 16, freeze_embeddings: bool = False,
               seed: int = 0, data_dir: Optional[str] = None):
    super().__init__(task, num_layers, max_length, passage_words, batch_size, seed, data_dir)
    self.freeze_embeddings = freeze_embeddings
    self._name = (f"MiniLMFineTune_{task}_N{self.num_layers}_L{max_length}"
                  f"{'_frozen_emb' if freeze_embeddings else ''}")

  @property
  def name(self):
    return self._name

  def frozen_params(self):
    if not self.freeze_embeddings:
      return {}
    p = self.pretrained()
    return {k: p[k] for k in _EMBEDDINGS}

  def frozen_param_shapes(self):
    if not self.freeze_embeddings:
      return None
    c = self.config
    h = c["hidden_size"]
    shapes = {"word_embeddings": (c["vocab_size"], h),
              "position_embeddings": (c["max_position_embeddings"], h),
              "token_type_embeddings": (c["type_vocab_size"], h)}
    return {k: {"embedding": jax.ShapeDtypeStruct(s, jnp.float32)} for k, s in shapes.items()}

  def init(self, key):
    p = {k: v for k, v in self.pretrained().items()
         if not (self.freeze_embeddings and k in _EMBEDDINGS)}
    h = self.config["hidden_size"]
    head = {"kernel": 0.02 * jax.random.normal(key, (h, self.num_classes)),
            "bias": jnp.zeros((self.num_classes,))}
    return {"encoder": p, "head": head}

  def logits(self, params, data, frozen=None):
    frozen = self.frozen_params() if frozen is None else frozen
    enc = dict(params["encoder"], **frozen)
    h = self.encoder.apply({"params": enc}, data["input_ids"], data["attention_mask"])
    pooled = bert.mean_pool(h, data["attention_mask"])
    return pooled @ params["head"]["kernel"] + params["head"]["bias"]


@gin.configurable
class MiniLMPromptTuning(_MiniLMTask):
  """Soft prompt-tuning of the frozen all-MiniLM-L6-v2: only {"prompt": [P, 384]} trains.

  logits_k = cos(e(prompt ++ passage), c_k) / temperature, with e the sentence embedding (mean
  pool over prompt and passage tokens, L2 norm) and c_k the frozen sentence embedding of class
  k's name.  The prompt starts as the word embeddings of P random vocabulary tokens (Lester et
  al. 2021).  Frozen (model state): the whole encoder.

  Args:
    task, num_layers, max_length, passage_words, batch_size, seed: as ``MiniLMFineTune``.
    num_prompts: P.  temperature: of the cosine scores (0.05, sentence-transformers' scale 20).
  """

  def __init__(self, task: str = "austen", num_prompts: int = 8, num_layers: Optional[int] = None,
               max_length: int = 64, passage_words: int = 32, batch_size: int = 16,
               temperature: float = 0.05, seed: int = 0, data_dir: Optional[str] = None):
    super().__init__(task, num_layers, max_length, passage_words, batch_size, seed, data_dir)
    self.num_prompts, self.temperature = num_prompts, temperature
    self._name = f"MiniLMPromptTuning_{task}_P{num_prompts}_N{self.num_layers}_L{max_length}"
    self._class_embeddings = None

  @property
  def name(self):
    return self._name

  def frozen_params(self):
    """The whole encoder."""
    return self.pretrained()

  def frozen_param_shapes(self):
    return jax.eval_shape(lambda: self.encoder.init(
        jax.random.PRNGKey(0), jnp.zeros((1, 4), jnp.int32))["params"])

  def class_embeddings(self):
    """[K, H] frozen sentence embeddings of the class names (no prompt)."""
    if self._class_embeddings is None:
      tok = minilm.minilm_tokenizer(self.data_dir)
      ids, mask = tok.encode([d for _, d in CLASSIFICATION_TASKS[self.task]], 16)
      embed = jax.jit(lambda p, i, m: bert.sentence_embedding(
          self.encoder.apply({"params": p}, i, m), m))
      if _tracing():  # first asked inside a trace: slow but exact
        with jax.ensure_compile_time_eval():
          self._class_embeddings = np.asarray(embed(self.frozen_params(), ids, mask))
      else:
        self._class_embeddings = np.asarray(embed(self.frozen_params(), ids, mask))
    return self._class_embeddings

  def init(self, key):
    if not _tracing():
      self.class_embeddings()  # computed once, outside any trace
    ids = jax.random.randint(key, (self.num_prompts,), 1000, self.config["vocab_size"])
    return {"prompt": self.pretrained()["word_embeddings"]["embedding"][ids]}

  def logits(self, params, data, frozen=None):
    frozen = self.frozen_params() if frozen is None else frozen
    mask = data["attention_mask"]
    h = self.encoder.apply({"params": frozen}, data["input_ids"], mask, prompt=params["prompt"])
    full = jnp.concatenate([jnp.ones((mask.shape[0], self.num_prompts), mask.dtype), mask], 1)
    e = bert.sentence_embedding(h, full)
    return e @ jnp.asarray(self.class_embeddings()).T / self.temperature


# ----------------------------------------------------------------------------- registry

def _register():
  from mnemosyne_lopt.tasks import registry  # pylint: disable=g-import-not-at-top
  e = registry.Entry
  m = "mnemosyne_lopt.tasks.text_tasks"
  tiny_lm = (("sequence_length", 64), ("batch_size", 8), ("hidden_size", 64), ("num_layers", 2),
             ("num_heads", 4), ("mlp_dim", 256))
  for entry in (
      e("transformer_lm_kjv_tiny", "text_lm", f"{m}:TransformerLMTask",
        kwargs=(("corpus", "kjv"),) + tiny_lm,
        description="byte-level decoder LM (D64, 2 layers, T64) on the KJV, weights N(0, 0.02^2)"),
      e("transformer_lm_kjv_tiny_flaxinit", "text_lm", f"{m}:TransformerLMTask",
        kwargs=(("corpus", "kjv"), ("init_style", "flax")) + tiny_lm,
        description="the same LM with flax's default initialisers"),
      e("transformer_lm_family_austen_tiny", "text_lm", f"{m}:TransformerLMFamily",
        kwargs=(("corpus", "austen"),) + tiny_lm,
        description="family: byte-level decoder LMs on Austen, sampled init scale"),
      e("bert_mlm_austen_tiny", "bert", f"{m}:BertMLMTask",
        kwargs=(("corpus", "austen"), ("tokens", "bytes"), ("sequence_length", 64),
                ("hidden_size", 64), ("num_layers", 2), ("num_heads", 4),
                ("intermediate_size", 256)),
        description="BERT masked LM from scratch on Austen's bytes (H64, 2 layers)"),
      e("minilm_finetune_austen", "bert", f"{m}:MiniLMFineTune",
        kwargs=(("task", "austen"),),
        description="all-MiniLM-L6-v2 fine-tuned: which Austen novel (6 classes)"),
      e("minilm_finetune_kjv_austen", "bert", f"{m}:MiniLMFineTune",
        kwargs=(("task", "kjv_austen"),),
        description="all-MiniLM-L6-v2 fine-tuned: KJV or Austen passage"),
      e("minilm_prompt_austen", "bert", f"{m}:MiniLMPromptTuning",
        kwargs=(("task", "austen"), ("num_prompts", 8)),
        description="soft prompt (8) on the frozen all-MiniLM-L6-v2: which Austen novel"),
  ):
    registry.register(entry)


_register()
