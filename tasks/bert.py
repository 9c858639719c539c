"""One BERT encoder definition (flax), sizes as arguments: tiny test models, MiniLM, BERT-base/large.

``BertEncoder`` is BERT's post-LayerNorm Transformer encoder (Devlin et al. 2019), the structure of
HF ``BertModel`` so that pretrained weights (all-MiniLM-L6-v2, ``minilm.load_minilm_params``)
load unchanged.  For input ids x [B, L] with mask m [B, L] (1 = real token):

  h_0 = LN(E_word[x] + E_pos[0..L-1] + E_type[t])
  per layer:  Q, K, V = h W_q + b_q, h W_k + b_k, h W_v + b_v        split into n_h heads of d_h
              A = softmax(Q K^T / sqrt(d_h) + (1 - m) * -1e9) V        (per head, keys masked)
              h = LN(h + A W_o + b_o)
              h = LN(h + GELU(h W_1 + b_1) W_2 + b_2)                 (GELU with erf, as HF "gelu")

with LayerNorm eps ``layer_norm_eps``.  ``prompt`` (soft prompt-tuning, Lester et al. 2021):
P vectors [P, H] (or [B, P, H]) prepended to the word embeddings, always attended, positions
0..P+L-1.  No dropout (the inner tasks are deterministic functions of the parameters and batch).

``BertMLMHead``: BERT's masked-LM head, logits = LN(GELU(h W_t + b_t)) E_word^T + b (decoder tied
to the word embeddings).  ``mean_pool`` / ``sentence_embedding``: sentence-transformers' mean
pooling over real tokens and L2 normalisation.

Parameter counts (``param_count``): BERT-base (L=12, H=768, A=12, I=3072, V=30522) 109.5M with the
pooler / 108.9M without, BERT-large (24, 1024, 16, 4096) 335.1M / 334.1M, all-MiniLM-L6-v2
22.7M / 22.6M.
"""

from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

_INIT = nn.initializers.normal(stddev=0.02)


def gelu(x):
  """GELU with the exact erf, x Phi(x) (HF BERT's "gelu")."""
  return jax.nn.gelu(x, approximate=False)


class _Layer(nn.Module):
  hidden_size: int
  num_heads: int
  intermediate_size: int
  layer_norm_eps: float

  @nn.compact
  def __call__(self, h, key_bias):
    b, l, d = h.shape
    dh = d // self.num_heads
    dense = lambda n, name: nn.Dense(n, kernel_init=_INIT, name=name)
    q, k, v = (dense(d, n)(h).reshape(b, l, self.num_heads, dh) for n in ("query", "key", "value"))
    scores = jnp.einsum("bqhd,bkhd->bhqk", q, k) / np.sqrt(dh) + key_bias[:, None, None, :]
    ctx = jnp.einsum("bhqk,bkhd->bqhd", jax.nn.softmax(scores, axis=-1), v).reshape(b, l, d)
    h = nn.LayerNorm(self.layer_norm_eps, name="attention_LayerNorm")(
        h + dense(d, "attention_output")(ctx))
    f = dense(d, "output")(gelu(dense(self.intermediate_size, "intermediate")(h)))
    return nn.LayerNorm(self.layer_norm_eps, name="output_LayerNorm")(h + f)


class BertEncoder(nn.Module):
  """BERT encoder; ``__call__(input_ids, attention_mask, token_type_ids, prompt)`` -> [B, P+L, H].

  Attributes: vocabulary, width H, layers, heads (H divisible by it), feed-forward width,
  positions, token types, LayerNorm eps (defaults: all-MiniLM-L6-v2).
  """
  vocab_size: int = 30522
  hidden_size: int = 384
  num_layers: int = 6
  num_heads: int = 12
  intermediate_size: int = 1536
  max_position_embeddings: int = 512
  type_vocab_size: int = 2
  layer_norm_eps: float = 1e-12

  def setup(self):
    if self.hidden_size % self.num_heads:
      raise ValueError(f"hidden_size {self.hidden_size} is not divisible by num_heads "
                       f"{self.num_heads}.")
    self.word_embeddings = nn.Embed(self.vocab_size, self.hidden_size, embedding_init=_INIT)
    self.position_embeddings = nn.Embed(self.max_position_embeddings, self.hidden_size,
                                        embedding_init=_INIT)
    self.token_type_embeddings = nn.Embed(self.type_vocab_size, self.hidden_size,
                                          embedding_init=_INIT)
    self.embeddings_LayerNorm = nn.LayerNorm(self.layer_norm_eps)
    self.layers = [_Layer(self.hidden_size, self.num_heads, self.intermediate_size,
                          self.layer_norm_eps, name=f"layer_{i}") for i in range(self.num_layers)]

  def __call__(self, input_ids, attention_mask=None, token_type_ids=None, prompt=None):
    b, l = input_ids.shape
    if attention_mask is None:
      attention_mask = jnp.ones((b, l), jnp.int32)
    if token_type_ids is None:
      token_type_ids = jnp.zeros((b, l), jnp.int32)
    x = self.word_embeddings(input_ids)
    if prompt is not None:
      prompt = jnp.broadcast_to(prompt, (b,) + prompt.shape[-2:]).astype(x.dtype)
      p = prompt.shape[1]
      x = jnp.concatenate([prompt, x], axis=1)
      attention_mask = jnp.concatenate([jnp.ones((b, p), attention_mask.dtype), attention_mask], 1)
      token_type_ids = jnp.concatenate([jnp.zeros((b, p), token_type_ids.dtype), token_type_ids], 1)
    n = x.shape[1]
    if n > self.max_position_embeddings:
      raise ValueError(f"{n} tokens exceed max_position_embeddings {self.max_position_embeddings}.")
    x = x + self.position_embeddings(jnp.arange(n))[None] + self.token_type_embeddings(token_type_ids)
    h = self.embeddings_LayerNorm(x)
    key_bias = (1.0 - attention_mask.astype(h.dtype)) * -1e9
    for layer in self.layers:
      h = layer(h, key_bias)
    return h

  def embedding_matrix(self):
    return self.word_embeddings.embedding


class BertMLMHead(nn.Module):
  """Masked-LM logits [B, L, V] from hidden states and the (tied) word embeddings [V, H]."""
  layer_norm_eps: float = 1e-12

  @nn.compact
  def __call__(self, h, word_embeddings):
    t = gelu(nn.Dense(h.shape[-1], kernel_init=_INIT, name="transform")(h))
    t = nn.LayerNorm(self.layer_norm_eps, name="transform_LayerNorm")(t)
    bias = self.param("bias", nn.initializers.zeros, (word_embeddings.shape[0],))
    return t @ word_embeddings.T + bias


def mean_pool(hidden, attention_mask):
  """Mean of hidden [B, L, H] over positions with mask 1: [B, H]."""
  m = attention_mask.astype(hidden.dtype)[..., None]
  return (hidden * m).sum(1) / jnp.maximum(m.sum(1), 1e-9)


def sentence_embedding(hidden, attention_mask):
  """all-MiniLM-L6-v2's sentence embedding: mean pooling then L2 normalisation, [B, H]."""
  e = mean_pool(hidden, attention_mask)
  return e / jnp.maximum(jnp.linalg.norm(e, axis=-1, keepdims=True), 1e-12)


def params_from_hf(w, num_layers: int, with_pooler: bool = False) -> dict:
  """HF ``BertModel`` tensors (torch Linear weight [out, in]) -> ``BertEncoder`` params."""
  def dense(prefix):
    return {"kernel": jnp.asarray(np.asarray(w[prefix + ".weight"]).T),
            "bias": jnp.asarray(w[prefix + ".bias"])}

  def ln(prefix):
    return {"scale": jnp.asarray(w[prefix + ".weight"]), "bias": jnp.asarray(w[prefix + ".bias"])}

  p = {"word_embeddings": {"embedding": jnp.asarray(w["embeddings.word_embeddings.weight"])},
       "position_embeddings": {"embedding": jnp.asarray(w["embeddings.position_embeddings.weight"])},
       "token_type_embeddings": {
           "embedding": jnp.asarray(w["embeddings.token_type_embeddings.weight"])},
       "embeddings_LayerNorm": ln("embeddings.LayerNorm")}
  for i in range(num_layers):
    e = f"encoder.layer.{i}."
    p[f"layer_{i}"] = {
        "query": dense(e + "attention.self.query"), "key": dense(e + "attention.self.key"),
        "value": dense(e + "attention.self.value"),
        "attention_output": dense(e + "attention.output.dense"),
        "attention_LayerNorm": ln(e + "attention.output.LayerNorm"),
        "intermediate": dense(e + "intermediate.dense"), "output": dense(e + "output.dense"),
        "output_LayerNorm": ln(e + "output.LayerNorm")}
  if with_pooler:
    return {"encoder": p, "pooler": dense("pooler.dense")}
  return p


def param_count(vocab_size=30522, hidden_size=768, num_layers=12, intermediate_size=3072,
                max_position_embeddings=512, type_vocab_size=2, pooler=True, **_) -> int:
  """Closed-form parameter count of ``BertEncoder`` (+ HF's pooler H^2 + H if ``pooler``)."""
  h, i = hidden_size, intermediate_size
  emb = (vocab_size + max_position_embeddings + type_vocab_size) * h + 2 * h
  layer = 4 * (h * h + h) + 2 * (2 * h) + (h * i + i) + (i * h + h)
  return emb + num_layers * layer + (h * h + h if pooler else 0)
