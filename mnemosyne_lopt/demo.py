"""mnemosyne-demo: train a small MLP on real 8x8 digits with Mnemosyne and with optax Adam.

The Mnemosyne used here has meta-parameters straight from ``MnemosyneLOpt.init`` (not
meta-trained): by construction it then behaves like Adam with learning rate ``step_mult``, with
the HPE/CAM network adding a small learned-to-be correction.  Meta-training is what makes it
better than Adam; this demo shows the plumbing end to end on data that installs with the project.
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnemosyne_lopt import optimizer as mnemosyne_optimizer
from mnemosyne_lopt.tasks import digits


def _evaluate(task, params, split_iter, batches=4):
  losses = [float(task.loss(params, None, next(split_iter))) for _ in range(batches)]
  return float(np.mean(losses))


def train_mnemosyne(task, num_steps, seed, theta=None, lopt=None, log_every=0):
  lopt = lopt or mnemosyne_optimizer.MnemosyneLOpt()
  theta = lopt.init(jax.random.PRNGKey(seed)) if theta is None else theta
  opt = lopt.opt_fn(theta)
  state = opt.init(task.init(jax.random.PRNGKey(seed)), num_steps=num_steps)

  @jax.jit
  def step(state, batch):
    loss, grad = jax.value_and_grad(task.loss)(opt.get_params(state), None, batch)
    return opt.update(state, grad, loss=loss), loss

  losses = []
  for i in range(num_steps):
    state, loss = step(state, next(task.datasets.train))
    losses.append(float(loss))
    if log_every and (i + 1) % log_every == 0:
      print(f"  mnemosyne step {i + 1:5d}/{num_steps}  train loss {np.mean(losses[-log_every:]):.4f}")
  return opt.get_params(state), losses


def train_adam(task, num_steps, seed, learning_rate=1e-3, log_every=0):
  tx = optax.adam(learning_rate)
  params = task.init(jax.random.PRNGKey(seed))
  opt_state = tx.init(params)

  @jax.jit
  def step(params, opt_state, batch):
    loss, grad = jax.value_and_grad(task.loss)(params, None, batch)
    updates, opt_state = tx.update(grad, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss

  losses = []
  for i in range(num_steps):
    params, opt_state, loss = step(params, opt_state, next(task.datasets.train))
    losses.append(float(loss))
    if log_every and (i + 1) % log_every == 0:
      print(f"  adam      step {i + 1:5d}/{num_steps}  train loss {np.mean(losses[-log_every:]):.4f}")
  return params, losses


def run(argv=None):
  """Parses flags, trains with both optimizers, prints a table; returns {name: (train, test, s)}."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--num_steps", type=int, default=500)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--hidden", type=int, nargs="+", default=[32])
  args = parser.parse_args(argv)
  if args.num_steps <= 0:
    parser.error("--num_steps must be a positive number of training steps.")

  print(f"Task: MLP {args.hidden} on scikit-learn 8x8 digits (real data), {args.num_steps} steps, "
        f"seed {args.seed}")
  results = {}
  for name, fn in (("Mnemosyne (untrained theta)", train_mnemosyne), ("optax Adam lr=1e-3", train_adam)):
    task = digits.DigitsMLP(hidden_sizes=args.hidden, seed=args.seed)
    start = time.time()
    params, losses = fn(task, args.num_steps, args.seed, log_every=max(args.num_steps // 5, 1))
    test_loss = _evaluate(task, params, task.datasets.test)
    results[name] = (float(np.mean(losses[-20:])), test_loss, time.time() - start)
  print("\n| optimizer | final train loss (mean of last 20) | test loss | seconds |")
  print("|---|---|---|---|")
  for name, (train_loss, test_loss, secs) in results.items():
    print(f"| {name} | {train_loss:.4f} | {test_loss:.4f} | {secs:.1f} |")
  return results


def main(argv=None) -> int:
  run(argv)
  return 0


if __name__ == "__main__":
  main()
