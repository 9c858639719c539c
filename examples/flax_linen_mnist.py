"""Train a flax linen MLP on Fashion-MNIST (28x28) with Mnemosyne as an optax optimizer.

    .venv/bin/python examples/flax_linen_mnist.py [--steps 500] [--learning_rate 1e-3 | --mechanic]
        [--pretrained NAME | --train_log_dir DIR]

The optimizer is ``mnemosyne_lopt.mnemosyne`` with a warmup + cosine learning-rate schedule and
decoupled weight decay, exactly as one would use ``optax.adamw``; its meta-parameters are the
shipped pretrained "default" (or ``--pretrained NAME``), or those of a ``mnemosyne-meta-train`` run
of the v2 rule (``--train_log_dir``).  The data are the real Fashion-MNIST images of
``mnemosyne-data fetch`` (train split for training, the official test set at the end).
``--mechanic``: ``mnemosyne_lopt.mnemosyne_mechanic`` instead, the same schedule's shape at peak
1.0 and no learning rate (Mechanic learns the step's length while training).
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
from mnemosyne_lopt.tasks import datasets


class MLP(nn.Module):
  hidden: tuple = (128, 64)

  @nn.compact
  def __call__(self, images):
    x = images.reshape(images.shape[0], -1)
    for width in self.hidden:
      x = nn.gelu(nn.Dense(width)(x))
    return nn.Dense(10)(x)


def make_optimizer(args, num_steps):
  """(optax transformation, description) from the command line: Mnemosyne v2 under a warmup +
  cosine schedule with weight decay 1e-4."""
  peak = 1.0 if args.mechanic else args.learning_rate
  schedule = optax.warmup_cosine_decay_schedule(0.0, peak, num_steps // 20, num_steps)
  kw = {}
  if args.train_log_dir:
    lopt = mnemosyne_lopt.MnemosyneLOpt()
    kw = {"theta": mnemosyne_lopt.load_theta(args.train_log_dir, lopt, best=True), "learned_opt": lopt}
    description = f"meta-trained ({args.train_log_dir})"
  else:
    kw = {"name": args.pretrained}
    description = f"pretrained {args.pretrained!r}"
  if args.mechanic:
    tx = mnemosyne_lopt.mnemosyne_mechanic(schedule, weight_decay=1e-4, num_steps=num_steps, **kw)
    return tx, f"{description}, step length by Mechanic, warmup-cosine shape, weight decay 1e-4"
  tx = mnemosyne_lopt.mnemosyne(schedule, weight_decay=1e-4, num_steps=num_steps, **kw)
  return tx, f"{description}, warmup-cosine to lr {args.learning_rate:g}, weight decay 1e-4"


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--steps", type=int, default=500)
  parser.add_argument("--batch_size", type=int, default=128)
  parser.add_argument("--pretrained", default="default")
  parser.add_argument("--learning_rate", type=float, default=1e-3)
  parser.add_argument("--mechanic", action="store_true",
                      help="mnemosyne_mechanic: no learning rate, Mechanic learns the step length")
  parser.add_argument("--train_log_dir", default=None)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--log_every", type=int, default=100)
  args = parser.parse_args(argv)

  data = datasets.image_datasets("fashion_mnist", batch_size=args.batch_size, seed=args.seed)
  _, _, test_x, test_y = datasets.load_images("fashion_mnist")
  model = MLP()
  params = model.init(jax.random.PRNGKey(args.seed), jnp.zeros((1, 28, 28, 1)))["params"]
  tx, description = make_optimizer(args, args.steps)
  tx = optax.chain(optax.clip_by_global_norm(1.0), tx)
  opt_state = tx.init(params)

  def loss_fn(params, batch):
    logits = model.apply({"params": params}, batch["image"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

  def train_step(params, opt_state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(params, batch)
    updates, opt_state = tx.update(grads, opt_state, params, loss=loss)
    return optax.apply_updates(params, updates), opt_state, loss
  train_step = jax.jit(train_step, donate_argnums=(0, 1))

  print(f"Mnemosyne {description}; {args.steps} steps of batch {args.batch_size} on Fashion-MNIST")
  start, losses = time.time(), []
  for step in range(1, args.steps + 1):
    params, opt_state, loss = train_step(params, opt_state, next(data.train))
    losses.append(float(loss))
    if step % args.log_every == 0 or step == args.steps:
      print(f"step {step:5d}  train loss (mean of last {min(step, args.log_every)}) "
            f"{np.mean(losses[-args.log_every:]):.4f}  ({time.time() - start:.1f} s)")
  logits = jax.jit(lambda p, x: model.apply({"params": p}, x))(params, test_x[..., None])
  test_loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, test_y).mean())
  accuracy = float(jnp.mean(jnp.argmax(logits, -1) == test_y))
  print(f"test loss {test_loss:.4f}  test accuracy {accuracy:.4f}  (10,000 test images)")
  return {"first_loss": losses[0], "final_loss": float(np.mean(losses[-min(50, len(losses)):])),
          "test_loss": test_loss, "test_accuracy": accuracy}


if __name__ == "__main__":
  main(sys.argv[1:])
