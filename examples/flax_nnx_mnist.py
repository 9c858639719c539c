"""Train a flax nnx convolutional network on Fashion-MNIST (28x28) with Mnemosyne via optax.

    .venv/bin/python examples/flax_nnx_mnist.py [--steps 500] [--learning_rate 1e-3 | --mechanic]
        [--pretrained NAME | --train_log_dir DIR]

``nnx.Optimizer(model, tx, wrt=nnx.Param)`` takes the adapter like any optax transformation and
hands it the parameters; the training loss goes in as ``optimizer.update(model, grads, loss=loss)``.
The choice of meta-parameters, the schedule and ``--mechanic`` are as in ``flax_linen_mnist.py``.
"""

import argparse
import os
import sys
import time

from flax import nnx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mnemosyne_lopt.tasks import datasets

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from flax_linen_mnist import make_optimizer  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position


class ConvNet(nnx.Module):
  """conv 3x3/16 stride 2 -> conv 3x3/32 stride 2 -> dense 10, gelu activations."""

  def __init__(self, rngs: nnx.Rngs):
    self.conv1 = nnx.Conv(1, 16, (3, 3), strides=2, rngs=rngs)
    self.conv2 = nnx.Conv(16, 32, (3, 3), strides=2, rngs=rngs)
    self.head = nnx.Linear(7 * 7 * 32, 10, rngs=rngs)

  def __call__(self, images):
    x = nnx.gelu(self.conv1(images))
    x = nnx.gelu(self.conv2(x))
    return self.head(x.reshape(x.shape[0], -1))


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
  model = ConvNet(nnx.Rngs(args.seed))
  tx, description = make_optimizer(args, args.steps)
  optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)

  def loss_fn(model, batch):
    logits = model(batch["image"])
    return optax.softmax_cross_entropy_with_integer_labels(logits, batch["label"]).mean()

  @nnx.jit
  def train_step(model, optimizer, batch):
    loss, grads = nnx.value_and_grad(loss_fn)(model, batch)
    optimizer.update(model, grads, loss=loss)
    return loss

  print(f"Mnemosyne {description}; {args.steps} steps of batch {args.batch_size} on Fashion-MNIST")
  start, losses = time.time(), []
  for step in range(1, args.steps + 1):
    losses.append(float(train_step(model, optimizer, next(data.train))))
    if step % args.log_every == 0 or step == args.steps:
      print(f"step {step:5d}  train loss (mean of last {min(step, args.log_every)}) "
            f"{np.mean(losses[-args.log_every:]):.4f}  ({time.time() - start:.1f} s)")
  logits = nnx.jit(lambda m, x: m(x))(model, test_x[..., None])
  test_loss = float(optax.softmax_cross_entropy_with_integer_labels(logits, test_y).mean())
  accuracy = float(jnp.mean(jnp.argmax(logits, -1) == test_y))
  print(f"test loss {test_loss:.4f}  test accuracy {accuracy:.4f}  (10,000 test images)")
  return {"first_loss": losses[0], "final_loss": float(np.mean(losses[-min(50, len(losses)):])),
          "test_loss": test_loss, "test_accuracy": accuracy}


if __name__ == "__main__":
  main(sys.argv[1:])
