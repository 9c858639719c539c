"""Train a GPT-style flax Transformer language model on Jane Austen's novels with Mnemosyne (and
AdamW beside it) as optax optimizers.

    .venv/bin/python examples/flax_transformer_lm.py [--optimizer both|mnemosyne|adamw]
        [--steps 1000] [--learning_rate 3e-3] [--init gpt|flax] [--d_model 128 --layers 4 ...]

The model is written here, as a user would write theirs (it is not one of the project's tasks): a
decoder-only Transformer over UTF-8 bytes (vocabulary 256) with learned position embeddings,
pre-LayerNorm blocks of causal multi-head self-attention and a GELU MLP (4 x d_model), and an output
layer tied to the token embedding.  ``--init gpt`` draws every kernel and embedding from N(0, 0.02^2)
(GPT-2's initialisation), ``--init flax`` keeps flax's defaults (LeCun-normal kernels, embeddings
N(0, 1)).  The data are byte windows of the six novels (``mnemosyne-data fetch``; training split for
training, the held-out test split for the final loss, ``mnemosyne_lopt.tasks.text``).

Both optimizers run the same schedule (linear warmup over the first 5 % of steps to
``--learning_rate``, cosine decay to 0), decoupled weight decay ``--weight_decay`` (0.1) and
gradient clipping at global norm 1, from the same initial parameters on the same batches:

    tx = optax.chain(optax.clip_by_global_norm(1.0),
                     mnemosyne_lopt.mnemosyne(schedule, weight_decay=0.1, num_steps=steps))

against ``optax.adamw(schedule, weight_decay=0.1)`` in the same chain.  Mnemosyne's ``update`` is
given the loss (optional).  Prints the training loss as it goes and, per optimizer, the test loss.
"""

import argparse
import sys
import time

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

import mnemosyne_lopt
from mnemosyne_lopt.tasks import text


class Block(nn.Module):
  """Pre-LayerNorm Transformer block: causal self-attention, then a 4x GELU MLP."""
  heads: int
  init: nn.initializers.Initializer

  @nn.compact
  def __call__(self, x):
    d = x.shape[-1]
    mask = nn.make_causal_mask(jnp.ones(x.shape[:2], jnp.int32))
    h = nn.LayerNorm()(x)
    x = x + nn.MultiHeadDotProductAttention(num_heads=self.heads, kernel_init=self.init)(h, h, mask=mask)
    h = nn.Dense(4 * d, kernel_init=self.init)(nn.LayerNorm()(x))
    return x + nn.Dense(d, kernel_init=self.init)(nn.gelu(h))


class GPT(nn.Module):
  """Decoder-only byte-level language model; logits [B, T, 256] for tokens [B, T]."""
  d_model: int = 128
  layers: int = 4
  heads: int = 4
  max_len: int = 128
  init_std: float = 0.02          # 0: flax's default initialisers

  @nn.compact
  def __call__(self, tokens):
    dense_init = (nn.initializers.normal(self.init_std) if self.init_std
                  else nn.linear.default_kernel_init)
    embed_init = (nn.initializers.normal(self.init_std) if self.init_std
                  else nn.initializers.normal(1.0))
    embed = nn.Embed(text.VOCAB_SIZE, self.d_model, embedding_init=embed_init)
    position = self.param("position", embed_init, (self.max_len, self.d_model))
    x = embed(tokens) + position[:tokens.shape[1]]
    for _ in range(self.layers):
      x = Block(self.heads, dense_init)(x)
    return embed.attend(nn.LayerNorm()(x))


def make_optimizer(name, learning_rate, weight_decay, num_steps):
  """The optax chain for ``name`` ("mnemosyne" or "adamw") under the warmup-cosine schedule."""
  schedule = optax.warmup_cosine_decay_schedule(0.0, learning_rate, max(num_steps // 20, 1), num_steps)
  if name == "mnemosyne":
    tx = mnemosyne_lopt.mnemosyne(schedule, weight_decay=weight_decay, num_steps=num_steps)
  elif name == "adamw":
    tx = optax.adamw(schedule, weight_decay=weight_decay)
  else:
    raise ValueError(f"Unknown optimizer {name!r}; choose mnemosyne or adamw.")
  return optax.chain(optax.clip_by_global_norm(1.0), tx)


def train(name, args, model, params, test_batches):
  """Trains ``params`` with optimizer ``name``; returns its first and final training losses and
  its test loss."""
  data = text.text_datasets("austen", args.batch_size, args.seq_len, seed=args.seed)
  tx = make_optimizer(name, args.learning_rate, args.weight_decay, args.steps)
  params = jax.tree_util.tree_map(jnp.array, params)      # a copy: train_step donates its buffers
  opt_state = tx.init(params)

  def loss_fn(params, batch):
    logits = model.apply({"params": params}, batch["obs"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["target"]).mean()

  def train_step(params, opt_state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(params, batch)
    updates, opt_state = tx.update(grads, opt_state, params, loss=loss)
    return optax.apply_updates(params, updates), opt_state, loss
  train_step = jax.jit(train_step, donate_argnums=(0, 1))

  start, losses = time.time(), []
  for step in range(1, args.steps + 1):
    params, opt_state, loss = train_step(params, opt_state, next(data.train))
    losses.append(float(loss))
    if step % args.log_every == 0 or step == args.steps:
      print(f"  {name:9s} step {step:5d}  train loss (mean of last {min(step, args.log_every)}) "
            f"{np.mean(losses[-args.log_every:]):.4f}  ({time.time() - start:.1f} s)", flush=True)
  test_loss = float(np.mean([jax.jit(loss_fn)(params, b) for b in test_batches]))
  return {"first_loss": losses[0], "final_loss": float(np.mean(losses[-min(50, len(losses)):])),
          "test_loss": test_loss, "seconds": time.time() - start}


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
  parser.add_argument("--optimizer", choices=("both", "mnemosyne", "adamw"), default="both")
  parser.add_argument("--steps", type=int, default=1000)
  parser.add_argument("--learning_rate", type=float, default=3e-3,
                      help="peak of the warmup-cosine schedule, for each optimizer (3e-3: the rate "
                           "LR tuning picks for both on the project's byte-level LMs)")
  parser.add_argument("--weight_decay", type=float, default=0.1)
  parser.add_argument("--init", choices=("gpt", "flax"), default="gpt")
  parser.add_argument("--d_model", type=int, default=128)
  parser.add_argument("--layers", type=int, default=4)
  parser.add_argument("--heads", type=int, default=4)
  parser.add_argument("--seq_len", type=int, default=128)
  parser.add_argument("--batch_size", type=int, default=16)
  parser.add_argument("--eval_batches", type=int, default=32,
                      help="test batches the final loss averages over")
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--log_every", type=int, default=100)
  args = parser.parse_args(argv)

  model = GPT(args.d_model, args.layers, args.heads, args.seq_len,
              init_std=0.02 if args.init == "gpt" else 0.0)
  params = model.init(jax.random.PRNGKey(args.seed), jnp.zeros((1, args.seq_len), jnp.int32))["params"]
  test_data = text.text_datasets("austen", args.batch_size, args.seq_len, seed=args.seed + 100)
  test_batches = [next(test_data.test) for _ in range(args.eval_batches)]
  count = sum(p.size for p in jax.tree_util.tree_leaves(params))
  print(f"GPT-style byte LM on Austen: d_model {args.d_model}, {args.layers} layers, {count:,} "
        f"parameters, {args.init} initialisation; {args.steps} steps of {args.batch_size} x "
        f"{args.seq_len} bytes; warmup-cosine to {args.learning_rate:g}, weight decay "
        f"{args.weight_decay:g}, clipping at 1")
  names = ("adamw", "mnemosyne") if args.optimizer == "both" else (args.optimizer,)
  results = {}
  for name in names:
    results[name] = train(name, args, model, params, test_batches)
  for name, r in results.items():
    print(f"{name:9s} test loss {r['test_loss']:.4f} ({r['test_loss'] / np.log(2):.3f} bits per byte)"
          f"  final train loss {r['final_loss']:.4f}  ({r['seconds']:.0f} s)")
  return results


if __name__ == "__main__":
  main(sys.argv[1:])
