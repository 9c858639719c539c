"""mnemosyne-stability: blow-up counts of optimizers on small problems that are not in any
meta-training family, at two horizons and several seeds.

A run *blows up* when its training loss is non-finite at any step, or above 10 times its initial
value at any step after the first 5 % of the run (``blew_up``).  Problems (batches drawn from the
step's PRNG key, so every optimizer sees the same data for a seed):

* ``regression_mlp64`` / ``regression_mlp256``: a ReLU student 16 -> 64 (256) -> 1 fits a fixed
  random ReLU teacher 16 -> 32 -> 1 by mean squared error, inputs N(0, I), batch 64;
* ``linear_scaled_inputs``: linear regression whose 16 input columns have scales 10^-1 .. 10^1;
* ``logistic``: logistic regression on 20 Gaussian features, labels from a noisy linear rule;
* ``mlp_init5x``: a 20 -> 64 -> 64 -> 4 tanh classifier on Gaussian clusters, initialised 5x too large;
* ``autoencoder``: a 64 -> 32 -> 8 -> 32 -> 64 GELU autoencoder of scikit-learn's 8x8 digits (MSE);
* ``reparam_0.01`` / ``reparam_100``: ``regression_mlp64`` with its parameters re-parameterised,
  p = s w (w starts at p0 / s; learned_optimization's ReparamWeights), s = 1e-2 and 1e2.

Layers are initialised as flax's ``nn.Dense`` does (LeCun normal kernels, zero biases).

``--problems architectures`` runs a second set, model families the first lacks (``ARCHITECTURES``;
embeddings drawn N(0, 1) as flax's ``nn.Embed``):

* ``rnn_adding``: a tanh RNN of width 64 on the adding problem (20 steps of (u ~ U[0, 1], mark);
  predict the sum of the two marked u's; MSE);
* ``deep_mlp_digits``: a 16-layer ReLU MLP of width 64, LeCun kernels, no normalisation, on
  scikit-learn's 8x8 digits (cross-entropy, 10 classes);
* ``resnet_layernorm_digits``: six pre-LayerNorm residual GELU blocks (64 -> 128 -> 64) on the
  digits;
* ``conv_batchnorm_digits``: two 3x3 convolutions (8, 16 channels) with batch normalisation (batch
  statistics; learned scale and bias), ReLU, global average pooling, on the digits;
* ``embedding_bag``: logistic regression on the mean of 16 token embeddings (vocabulary 4,096,
  width 32, tokens by Zipf's law: most rows get no gradient at a step), labels from a fixed
  random score per token;
* ``wide_softmax``: a 2,048-token bigram model through a width-64 bottleneck (embedding 2,048 x 64,
  output 64 x 2,048: a wide matrix), 70 % of targets a fixed successor, 30 % uniform noise;
* ``scalar_and_unused``: logistic regression with a learned scalar log-temperature, a (1, 1) gain
  and an 8 x 8 parameter the loss never uses (zero gradient at every step).

    mnemosyne-stability [--steps 600 3000] [--seeds 3] [--optimizers mnemosyne,mnemosyne_T,adamw]
                        [--problems regression_mlp64,...|architectures]
                        [--json runs/stability.json] [--pretrained default|plain]
                        [--theta RUN/theta_best.msgpack]
                        [--max_step_gain none] [--max_adam_ratio none] [--max_coordinate_ratio 2]
                        [--relative_chunk_scales true|false] [--align_with_adam true|false]
                        [--max_log_gain 2.3] [--init_scale_reference 0.02]
                        [--weight_decay 0.1] [--plot runs/stability.png]
                        [--schedule constant|cosine|warmup_cosine] [--learning_rate 1e-3]

prints a table (blow-ups / runs, median final loss per problem and optimizer) and the total of
blow-ups per optimizer.  Every optimizer runs at the same ``--learning_rate`` (default 1e-3; the
default of ``mnemosyne()`` is 3e-3: pass ``--learning_rate 3e-3`` for it), so that blow-ups compare
at one rate.  Optimizers: ``mnemosyne`` is ``mnemosyne_lopt.mnemosyne(learning_rate)`` (weight decay
0.1, horizon not given), ``mnemosyne_T`` the same told ``num_steps``,
``mnemosyne_harness`` ``mnemosyne_with_adamw_harness()`` (AdamW, weight decay 0.1, for vectors),
``adamw`` optax.adamw(1e-3) (its weight decay 1e-4), ``adamw_wd0.1`` optax.adamw(1e-3,
weight_decay=0.1) (Mnemosyne's decay), ``adam`` optax.adam(1e-3), ``mnemosyne_v1`` the v1 pretrained
optimizer (``load_pretrained("v1")``, through ``to_optax``), ``celo2_style`` the Celo2-style rule
meta-trained at Mnemosyne v2's budget (``mnemosyne_lopt.celo2_style``; the best theta and config
of ``CELO2_RUN``, or of the run folder ``--celo2_run`` names, no weight decay, through
``to_optax``), ``celo2_style_bound`` the same with
each coordinate's step bounded by twice Adam's (``max_coordinate_ratio=2``, as ``mnemosyne``).
``mnemosyne_mechanic`` is ``mnemosyne_lopt.mnemosyne_mechanic()`` (the shipped default's update,
its length learned by Mechanic; schedule peak 1.0, horizon not given), ``mnemosyne_mechanic_T``
the same told ``num_steps``, ``adamw_mechanic`` ``optax.contrib.mechanize(optax.adamw(1.0))``;
``--learning_rate`` does not apply to these three (Mechanic learns the step's length), ``--schedule``
does, at peak 1.0, and ``--pretrained`` to the first two.
``--schedule`` gives every optimizer but ``mnemosyne_v1`` (which has no learning rate) the
learning-rate schedule of ``mnemosyne-eval``
(``evaluation.learning_rate_schedule``) with the learning rate as its peak, over each run's steps;
``--learning_rate`` sets that rate (or peak) for all of them, 1e-3 by default.
``--pretrained plain`` makes ``mnemosyne`` / ``mnemosyne_T`` the shipped "plain" optimizer
(``mnemosyne(name="plain")``) in place of the default.  The flags named after ``MnemosyneLOpt``
arguments set them for ``mnemosyne`` / ``mnemosyne_T`` in place of the shipped optimizer's;
``--weight_decay`` sets their decoupled weight decay (0.1).
"""

import argparse
import glob
import json
import math
import os
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

PROBLEMS = ("regression_mlp64", "regression_mlp256", "linear_scaled_inputs", "logistic",
            "mlp_init5x", "autoencoder", "reparam_0.01", "reparam_100")
ARCHITECTURES = ("rnn_adding", "deep_mlp_digits", "resnet_layernorm_digits",
                 "conv_batchnorm_digits", "embedding_bag", "wide_softmax", "scalar_and_unused")
OPTIMIZERS = ("mnemosyne", "mnemosyne_T", "mnemosyne_harness", "adamw", "adamw_wd0.1", "adam",
              "mnemosyne_v1", "celo2_style", "celo2_style_bound", "mnemosyne_mechanic",
              "mnemosyne_mechanic_T", "adamw_mechanic")
CELO2_RUN = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                         "docs", "results", "meta_training", "celo2_style_v2_stage8")
LEARNING_RATE = 1e-3                 # every optimizer's (peak) learning rate


def blew_up(losses) -> bool:
  """Non-finite anywhere, or above 10x the initial loss after the first 5 % of the steps."""
  losses = np.asarray(losses, np.float64)
  if not np.all(np.isfinite(losses)):
    return True
  start = int(math.ceil(0.05 * len(losses)))
  return bool(np.any(losses[start:] > 10.0 * losses[0]))


def _dense_init(key, sizes, scale=1.0):
  keys = jax.random.split(key, len(sizes) - 1)
  return [{"w": scale * jax.random.normal(k, (a, b)) / np.sqrt(a), "b": jnp.zeros((b,))}
          for k, a, b in zip(keys, sizes[:-1], sizes[1:])]


def _mlp(layers, x, act):
  for i, layer in enumerate(layers):
    x = x @ layer["w"] + layer["b"]
    if i < len(layers) - 1:
      x = act(x)
  return x


def _digits():
  """scikit-learn's 8x8 digits: images [1797, 64] in [0, 1] and labels [1797]."""
  from sklearn.datasets import load_digits  # pylint: disable=g-import-not-at-top
  d = load_digits()
  return jnp.asarray(d.data / 16.0, jnp.float32), jnp.asarray(d.target, jnp.int32)


def _cross_entropy(logits, labels):
  logp = jax.nn.log_softmax(logits)
  return -jnp.mean(jnp.take_along_axis(logp, labels[:, None], axis=1))


def _logistic_batch(w_true, k, dim=20):
  """A batch of 64 Gaussian features and labels 1[x w_true + 0.5 noise > 0]."""
  kx, kn = jax.random.split(k)
  x = jax.random.normal(kx, (64, dim))
  return x, (x @ w_true + 0.5 * jax.random.normal(kn, (64,)) > 0).astype(jnp.float32)


def _logistic_loss(z, y):
  """Mean binary cross-entropy of logits z against labels y in {0, 1}."""
  return jnp.mean(jax.nn.softplus(z) - y * z)


def make_problem(name: str, seed: int):
  """(init(key) -> params, loss(params, key) -> scalar) of problem ``name``; ``seed`` fixes the
  problem's own constants (teacher, cluster centres)."""
  rng = jax.random.PRNGKey(10_000 + seed)
  if name.startswith("reparam_"):
    scale = float(name.split("_")[1])
    init, loss = make_problem("regression_mlp64", seed)
    return ((lambda k: jax.tree_util.tree_map(lambda p: p / scale, init(k))),
            (lambda w, k: loss(jax.tree_util.tree_map(lambda x: x * scale, w), k)))
  if name.startswith("regression_mlp"):
    width = int(name[len("regression_mlp"):])
    teacher = _dense_init(rng, (16, 32, 1))

    def loss(p, k):
      x = jax.random.normal(k, (64, 16))
      return jnp.mean(jnp.square(_mlp(p, x, jax.nn.relu) - _mlp(teacher, x, jax.nn.relu)))
    return (lambda k: _dense_init(k, (16, width, 1))), loss
  if name == "linear_scaled_inputs":
    k1, _ = jax.random.split(rng)
    w_true = jax.random.normal(k1, (16,))
    col = 10.0 ** jnp.linspace(-1.0, 1.0, 16)

    def loss(p, k):
      kx, kn = jax.random.split(k)
      x = jax.random.normal(kx, (64, 16)) * col
      y = (x / col) @ w_true + 0.1 * jax.random.normal(kn, (64,))
      return jnp.mean(jnp.square(x @ p["w"] + p["b"] - y))
    return (lambda k: {"w": jnp.zeros((16,)), "b": jnp.zeros(())}), loss
  if name == "logistic":
    w_true = jax.random.normal(rng, (20,))

    def loss(p, k):
      x, y = _logistic_batch(w_true, k)
      return _logistic_loss(x @ p["w"] + p["b"], y)
    return (lambda k: {"w": jnp.zeros((20,)), "b": jnp.zeros(())}), loss
  if name == "mlp_init5x":
    centres = 2.0 * jax.random.normal(rng, (4, 20))

    def loss(p, k):
      kc, kx = jax.random.split(k)
      labels = jax.random.randint(kc, (64,), 0, 4)
      x = centres[labels] + jax.random.normal(kx, (64, 20))
      return _cross_entropy(_mlp(p, x, jnp.tanh), labels)
    return (lambda k: _dense_init(k, (20, 64, 64, 4), scale=5.0)), loss
  if name == "autoencoder":
    data, _ = _digits()

    def loss(p, k):
      x = data[jax.random.randint(k, (64,), 0, data.shape[0])]
      return jnp.mean(jnp.square(_mlp(p, x, jax.nn.gelu) - x))
    return (lambda k: _dense_init(k, (64, 32, 8, 32, 64))), loss
  if name in ARCHITECTURES:
    return _architecture(name, rng)
  raise ValueError(f"Unknown problem {name!r}; choose from {PROBLEMS + ARCHITECTURES}.")


def _layer_norm(x, scale, bias):
  x = x - jnp.mean(x, axis=-1, keepdims=True)
  return x * jax.lax.rsqrt(jnp.mean(jnp.square(x), axis=-1, keepdims=True) + 1e-6) * scale + bias


def _architecture(name: str, rng):
  """(init, loss) of the ``ARCHITECTURES`` problems (module docstring)."""
  lecun = lambda k, shape: jax.random.normal(k, shape) / np.sqrt(shape[0])
  if name == "rnn_adding":
    steps, width = 20, 64

    def loss(p, k):
      ku, km = jax.random.split(k)
      u = jax.random.uniform(ku, (64, steps))
      marks = jax.vmap(lambda kk: jax.random.choice(kk, steps, (2,), replace=False))(
          jax.random.split(km, 64))
      m = jnp.zeros((64, steps)).at[jnp.arange(64)[:, None], marks].set(1.0)
      target = jnp.sum(u * m, axis=1)

      def cell(h, x_t):
        return jnp.tanh(x_t @ p["w_in"] + h @ p["w_rec"] + p["b"]), None
      h, _ = jax.lax.scan(cell, jnp.zeros((64, width)), jnp.stack([u, m], -1).transpose(1, 0, 2))
      return jnp.mean(jnp.square(h @ p["w_out"][:, 0] + p["b_out"] - target))

    def init(k):
      k1, k2, k3 = jax.random.split(k, 3)
      return {"w_in": lecun(k1, (2, width)), "w_rec": lecun(k2, (width, width)),
              "b": jnp.zeros((width,)), "w_out": lecun(k3, (width, 1)), "b_out": jnp.zeros(())}
    return init, loss
  if name in ("deep_mlp_digits", "resnet_layernorm_digits", "conv_batchnorm_digits"):
    data, labels = _digits()

    def batch(k):
      i = jax.random.randint(k, (64,), 0, data.shape[0])
      return data[i], labels[i]
    if name == "deep_mlp_digits":
      sizes = (64,) + (64,) * 15 + (10,)
      def loss(p, k):
        x, y = batch(k)
        return _cross_entropy(_mlp(p, x, jax.nn.relu), y)
      return (lambda k: _dense_init(k, sizes)), loss
    if name == "resnet_layernorm_digits":
      blocks = 6

      def init(k):
        ks = jax.random.split(k, 2 * blocks + 2)
        return {"embed": _dense_init(ks[0], (64, 64))[0], "head": _dense_init(ks[1], (64, 10))[0],
                "blocks": [{"ln_scale": jnp.ones((64,)), "ln_bias": jnp.zeros((64,)),
                            "up": _dense_init(ks[2 + 2 * i], (64, 128))[0],
                            "down": _dense_init(ks[3 + 2 * i], (128, 64))[0]}
                           for i in range(blocks)]}

      def loss(p, k):
        x, y = batch(k)
        h = x @ p["embed"]["w"] + p["embed"]["b"]
        for blk in p["blocks"]:
          z = _layer_norm(h, blk["ln_scale"], blk["ln_bias"])
          h = h + _mlp([blk["up"], blk["down"]], z, jax.nn.gelu)
        return _cross_entropy(h @ p["head"]["w"] + p["head"]["b"], y)
      return init, loss

    def init(k):                        # conv_batchnorm_digits
      k1, k2, k3 = jax.random.split(k, 3)
      conv = lambda kk, cin, cout: jax.random.normal(kk, (3, 3, cin, cout)) / np.sqrt(9 * cin)
      return {"conv1": conv(k1, 1, 8), "bn1": {"scale": jnp.ones((8,)), "bias": jnp.zeros((8,))},
              "conv2": conv(k2, 8, 16), "bn2": {"scale": jnp.ones((16,)), "bias": jnp.zeros((16,))},
              "head": _dense_init(k3, (16, 10))[0]}

    def loss(p, k):
      x, y = batch(k)
      h = x.reshape(-1, 8, 8, 1)
      for c, bn in (("conv1", "bn1"), ("conv2", "bn2")):
        h = jax.lax.conv_general_dilated(h, p[c], (1, 1), "SAME",
                                         dimension_numbers=("NHWC", "HWIO", "NHWC"))
        mean, var = jnp.mean(h, (0, 1, 2)), jnp.var(h, (0, 1, 2))   # batch statistics
        h = jax.nn.relu((h - mean) * jax.lax.rsqrt(var + 1e-5) * p[bn]["scale"] + p[bn]["bias"])
      return _cross_entropy(jnp.mean(h, (1, 2)) @ p["head"]["w"] + p["head"]["b"], y)
    return init, loss
  if name == "embedding_bag":
    vocab, dim, length = 4096, 32, 16
    score = jax.random.normal(rng, (vocab,))
    cdf = jnp.cumsum(1.0 / jnp.arange(1, vocab + 1) ** 1.1)     # Zipf's law, exponent 1.1

    def loss(p, k):
      tokens = jnp.minimum(jnp.searchsorted(cdf, jax.random.uniform(k, (64, length)) * cdf[-1]),
                           vocab - 1)
      y = (jnp.mean(score[tokens], axis=1) > 0).astype(jnp.float32)
      return _logistic_loss(jnp.mean(p["embed"][tokens], axis=1) @ p["w"][:, 0] + p["b"], y)

    def init(k):
      k1, k2 = jax.random.split(k)
      return {"embed": jax.random.normal(k1, (vocab, dim)), "w": lecun(k2, (dim, 1)),
              "b": jnp.zeros(())}
    return init, loss
  if name == "wide_softmax":
    vocab, dim = 2048, 64
    successor = jax.random.randint(rng, (vocab,), 0, vocab)

    def loss(p, k):
      kx, kn = jax.random.split(k)
      x = jax.random.randint(kx, (64,), 0, vocab)
      noise = jax.random.randint(kn, (64,), 0, vocab)
      y = jnp.where(jax.random.uniform(kn, (64,)) < 0.7, successor[x], noise)
      return _cross_entropy(p["embed"][x] @ p["out"] + p["out_bias"], y)

    def init(k):
      k1, k2 = jax.random.split(k)
      return {"embed": jax.random.normal(k1, (vocab, dim)), "out": lecun(k2, (dim, vocab)),
              "out_bias": jnp.zeros((vocab,))}
    return init, loss
  # scalar_and_unused: logistic regression with a learned scalar temperature, a (1, 1) gain and a
  # parameter the loss never uses (zero gradient at every step).
  w_true = jax.random.normal(rng, (20,))

  def loss(p, k):
    x, y = _logistic_batch(w_true, k)
    return _logistic_loss(jnp.exp(p["log_temperature"]) * p["gain"][0, 0] * (x @ p["w"]) + p["b"], y)
  return (lambda k: {"w": 0.1 * jax.random.normal(k, (20,)), "b": jnp.zeros(()),
                     "log_temperature": jnp.zeros(()), "gain": jnp.ones((1, 1)),
                     "unused": jnp.ones((8, 8))}), loss


def make_optimizer(name: str, num_steps: int, theta_file=None,
                   overrides=None, schedule: str = "constant",
                   learning_rate: float = LEARNING_RATE,
                   celo2_run: str = CELO2_RUN) -> optax.GradientTransformation:
  """The optimizer ``name`` (module docstring); ``theta_file``: meta-parameters (a run's
  theta.msgpack) of the shipped optimizer's configuration for mnemosyne / mnemosyne_T instead of
  its shipped theta; ``overrides``: ``MnemosyneLOpt`` arguments (e.g. ``{"max_step_gain": None}``)
  in place of the shipped optimizer's, ``"weight_decay"`` its decoupled weight decay and
  ``"pretrained"`` which shipped optimizer (``load_pretrained`` name; "default" unless given);
  ``schedule``: ``learning_rate`` (1e-3 by default) as the peak of
  ``evaluation.learning_rate_schedule(schedule, learning_rate, num_steps)`` (not for
  ``mnemosyne_v1``); ``celo2_run``: the meta-training run (theta_best.msgpack and config.gin)
  whose Celo2-style rule ``celo2_style`` / ``celo2_style_bound`` are."""
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt import evaluation  # pylint: disable=g-import-not-at-top  (it imports this module)
  lr = evaluation.learning_rate_schedule(schedule, learning_rate, num_steps)
  if name in ("mnemosyne", "mnemosyne_T"):
    overrides = dict(overrides or {})
    kw = {"weight_decay": overrides.pop("weight_decay")} if "weight_decay" in overrides else {}
    pretrained = overrides.pop("pretrained", "default")
    kw["name"] = pretrained
    if theta_file or overrides:
      shipped, theta = mnemosyne_lopt.load_pretrained(pretrained)
      lopt = mnemosyne_lopt.MnemosyneLOpt(**{**shipped.config, **overrides})
      if theta_file:
        with open(theta_file, "rb") as f:
          theta = mnemosyne_lopt.pretrained.read_theta(lopt, f.read(), theta_file)
      kw.update(theta=theta, learned_opt=lopt)
    return mnemosyne_lopt.mnemosyne(lr, num_steps=num_steps if name == "mnemosyne_T" else None, **kw)
  if name in ("mnemosyne_mechanic", "mnemosyne_mechanic_T", "adamw_mechanic"):
    return evaluation.mechanic_transform(
        name.removesuffix("_T"), evaluation.learning_rate_schedule(schedule, 1.0, num_steps),
        num_steps if name == "mnemosyne_mechanic_T" else None,
        (overrides or {}).get("pretrained", "default"))
  if name == "mnemosyne_harness":
    return mnemosyne_lopt.mnemosyne_with_adamw_harness(lr)
  if name == "adamw":
    return optax.adamw(lr)
  if name == "adamw_wd0.1":
    return optax.adamw(lr, weight_decay=0.1)
  if name == "adam":
    return optax.adam(lr)
  if name == "mnemosyne_v1":
    lopt, theta = mnemosyne_lopt.load_pretrained("v1")
    return mnemosyne_lopt.to_optax(lopt, theta, num_steps)
  if name in ("celo2_style", "celo2_style_bound"):
    lopt, theta, _ = evaluation._load_learned(name, celo2_run)  # pylint: disable=protected-access
    return mnemosyne_lopt.to_optax(evaluation._at_learning_rate(name, lopt, lr), theta,  # pylint: disable=protected-access
                                   num_steps)
  raise ValueError(f"Unknown optimizer {name!r}; choose from {OPTIMIZERS}.")


def train_losses(problem: str, optimizer: str, num_steps: int, seeds, theta_file=None,
                 overrides=None, schedule: str = "constant",
                 learning_rate: float = LEARNING_RATE, celo2_run: str = CELO2_RUN) -> np.ndarray:
  """Training losses [len(seeds), num_steps] (the loss at each step, before its update)."""
  init, loss = make_problem(problem, 0)
  tx = make_optimizer(optimizer, num_steps, theta_file, overrides, schedule, learning_rate,
                      celo2_run)

  def one(seed):
    key = jax.random.PRNGKey(seed)
    params = init(jax.random.fold_in(key, 0))

    def body(carry, k):
      p, s = carry
      value, grads = jax.value_and_grad(loss)(p, k)
      updates, s = tx.update(grads, s, p, loss=value) if _takes_loss(tx) else tx.update(grads, s, p)
      return (optax.apply_updates(p, updates), s), value
    keys = jax.random.split(jax.random.fold_in(key, 1), num_steps)
    _, losses = jax.lax.scan(body, (params, tx.init(params)), keys)
    return losses
  run = jax.jit(jax.vmap(one))
  return np.asarray(run(jnp.asarray(list(seeds))))


def step_ratios(problem: str, optimizer: str, num_steps: int, seeds, weight_decay: float,
                overrides=None, learning_rate: float = LEARNING_RATE) -> dict:
  """How long ``optimizer``'s steps are against Adam's on ``problem`` (constant ``learning_rate``).
  With u the update and ``weight_decay`` the optimizer's decoupled decay, its direction is

      Delta = -u / lr - weight_decay p        (u = -lr (Delta + weight_decay p))

  and Adam's A = m_hat / (sqrt(v_hat) + eps) from optax.scale_by_adam on the same gradients (the
  accumulators Mnemosyne keeps).  Returns numpy arrays: ``losses`` [seeds, steps] (before each
  update), per tensor (in tree-leaf order) ``ratio`` = rms(Delta) / rms(A) and ``below`` = the
  fraction of coordinates with |Delta_i| < |A_i| (1 - 1e-4) - 4 eps (|A_i| + weight_decay |p_i|)
  (eps the float32 machine epsilon: the rounding of Delta recovered from u, which cancels the decay
  term, so that a coordinate whose A_i is far below weight_decay p_i is not counted on rounding
  alone), both [seeds, steps, tensors]; and ``tensors``, the leaves' paths.  For optax.adamw at its
  own decay ratio is 1 and below 0."""
  init, loss = make_problem(problem, 0)
  tx = make_optimizer(optimizer, num_steps, None, overrides, "constant", learning_rate)
  adam = optax.scale_by_adam()
  leaves = jax.tree_util.tree_leaves

  def one(seed):
    key = jax.random.PRNGKey(seed)
    params = init(jax.random.fold_in(key, 0))

    def body(carry, k):
      p, s, sa = carry
      value, g = jax.value_and_grad(loss)(p, k)
      u, s = tx.update(g, s, p, loss=value) if _takes_loss(tx) else tx.update(g, s, p)
      a, sa = adam.update(g, sa, p)
      triples = [(-x / learning_rate - weight_decay * q, y, q)
                 for x, q, y in zip(leaves(u), leaves(p), leaves(a))]
      ratio = jnp.stack([jnp.sqrt(jnp.mean(x * x) / (jnp.mean(y * y) + 1e-30)) for x, y, _ in triples])
      eps = float(jnp.finfo(jnp.float32).eps)
      below = jnp.stack([jnp.mean(jnp.abs(x) < jnp.abs(y) * (1 - 1e-4)
                                  - 4 * eps * (jnp.abs(y) + weight_decay * jnp.abs(q)))
                         for x, y, q in triples])
      return (optax.apply_updates(p, u), s, sa), (value, ratio, below)
    keys = jax.random.split(jax.random.fold_in(key, 1), num_steps)
    return jax.lax.scan(body, (params, tx.init(params), adam.init(params)), keys)[1]
  losses, ratio, below = (np.asarray(x) for x in jax.jit(jax.vmap(one))(jnp.asarray(list(seeds))))
  tensors = [jax.tree_util.keystr(path) for path, _ in
             jax.tree_util.tree_flatten_with_path(init(jax.random.PRNGKey(0)))[0]]
  return {"losses": losses, "ratio": ratio, "below": below, "tensors": tensors}


def _takes_loss(tx) -> bool:
  return isinstance(tx, optax.GradientTransformationExtraArgs)


def run(argv=None) -> dict:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--steps", type=int, nargs="+", default=[600, 3000])
  parser.add_argument("--seeds", type=int, default=3)
  parser.add_argument("--problems", default=",".join(PROBLEMS))
  parser.add_argument("--optimizers", default="mnemosyne,mnemosyne_T,adamw")
  parser.add_argument("--json", default=None, help="write per-run results to this JSON file")
  parser.add_argument("--theta", default=None,
                      help="theta.msgpack for mnemosyne / mnemosyne_T, of the configuration of "
                           "--pretrained (default: that optimizer's shipped theta)")
  parser.add_argument("--pretrained", default="default",
                      help="which shipped pretrained Mnemosyne mnemosyne / mnemosyne_T are "
                           "(mnemosyne(name=...): default, plain, ...) [default]")
  parser.add_argument("--plot", default=None, help="write a heat map (final loss / AdamW's) to this PNG")
  parser.add_argument("--replot", default=None, help="only redraw --plot from this results JSON")
  parser.add_argument("--max_step_gain", default="default",
                      help="MnemosyneLOpt.max_step_gain for mnemosyne / mnemosyne_T: a number or "
                           "'none' (default: the shipped optimizer's)")
  parser.add_argument("--max_adam_ratio", default="default",
                      help="MnemosyneLOpt.max_adam_ratio for mnemosyne / mnemosyne_T: a number or "
                           "'none' (default: the shipped optimizer's)")
  parser.add_argument("--max_coordinate_ratio", default="default",
                      help="MnemosyneLOpt.max_coordinate_ratio for mnemosyne / mnemosyne_T: a "
                           "number or 'none' (default: the shipped optimizer's)")
  parser.add_argument("--max_log_gain", type=float, default=None,
                      help="MnemosyneLOpt.max_log_gain for mnemosyne / mnemosyne_T (default: the "
                           "shipped optimizer's, 0)")
  parser.add_argument("--relative_chunk_scales", default="default", choices=("default", "true", "false"),
                      help="MnemosyneLOpt.relative_chunk_scales for mnemosyne / mnemosyne_T "
                           "(default: the shipped optimizer's)")
  parser.add_argument("--weight_decay", type=float, default=None,
                      help="decoupled weight decay of mnemosyne / mnemosyne_T (default: "
                           "mnemosyne()'s, 0.1)")
  parser.add_argument("--align_with_adam", default="default", choices=("default", "true", "false"),
                      help="MnemosyneLOpt.align_with_adam for mnemosyne / mnemosyne_T "
                           "(default: the shipped optimizer's)")
  parser.add_argument("--orthogonalize", default="default", choices=("default", "true", "false"),
                      help="MnemosyneLOpt.orthogonalize for mnemosyne / mnemosyne_T (default: "
                           "the shipped optimizer's)")
  parser.add_argument("--init_scale_reference", default="default",
                      help="MnemosyneLOpt.init_scale_reference for mnemosyne / mnemosyne_T: a "
                           "number or 'none' (default: the shipped optimizer's, none)")
  from mnemosyne_lopt import evaluation  # pylint: disable=g-import-not-at-top  (it imports this module)
  parser.add_argument("--schedule", default="constant", choices=evaluation.SCHEDULES,
                      help="learning-rate schedule with --learning_rate as its peak over each run's "
                           "steps, for every optimizer but mnemosyne_v1 (mnemosyne-eval's schedules)")
  parser.add_argument("--learning_rate", type=float, default=LEARNING_RATE,
                      help="every optimizer's (peak) learning rate but mnemosyne_v1's [1e-3]")
  parser.add_argument("--celo2_run", default=CELO2_RUN,
                      help="meta-training run folder (theta_best.msgpack, config.gin) of "
                           "celo2_style / celo2_style_bound [docs/results/meta_training/"
                           "celo2_style_v2_stage8]")
  args = parser.parse_args(argv)
  if not args.learning_rate > 0:
    parser.error(f"--learning_rate must be positive, got {args.learning_rate}")
  if args.replot:
    with open(args.replot) as f:
      out = json.load(f)
    plot(out["results"], args.plot or os.path.splitext(args.replot)[0] + ".png")
    return out
  problems = [q for p in args.problems.split(",") if p
              for q in (ARCHITECTURES if p == "architectures" else (p,))]
  optimizers = [o for o in args.optimizers.split(",") if o]
  for name in problems:
    if name not in PROBLEMS + ARCHITECTURES:
      parser.error(f"unknown problem {name!r}; choose from {', '.join(PROBLEMS + ARCHITECTURES)} "
                   "(or 'architectures' for the last seven)")
  for name in optimizers:
    if name not in OPTIMIZERS:
      parser.error(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
  overrides = {}
  for arg in ("max_step_gain", "max_adam_ratio", "max_coordinate_ratio", "init_scale_reference"):
    value = getattr(args, arg)
    if value != "default":
      overrides[arg] = None if value.lower() == "none" else float(value)
  if args.max_log_gain is not None:
    if not args.max_log_gain >= 0:
      parser.error(f"--max_log_gain must be >= 0, got {args.max_log_gain}")
    overrides["max_log_gain"] = args.max_log_gain
  if args.relative_chunk_scales != "default":
    overrides["relative_chunk_scales"] = args.relative_chunk_scales == "true"
  if args.weight_decay is not None:
    overrides["weight_decay"] = args.weight_decay
  if args.align_with_adam != "default":
    overrides["align_with_adam"] = args.align_with_adam == "true"
  if args.orthogonalize != "default":
    overrides["orthogonalize"] = args.orthogonalize == "true"
  if args.pretrained != "default":
    overrides["pretrained"] = args.pretrained
  results, t0 = [], time.time()
  total = len(problems) * len(args.steps) * len(optimizers)
  done = 0
  for problem in problems:
    for steps in args.steps:
      for opt in optimizers:
        losses = train_losses(problem, opt, steps, range(args.seeds), args.theta, overrides,
                              args.schedule, args.learning_rate, args.celo2_run)
        tail = max(steps // 20, 1)
        for seed, curve in enumerate(losses):
          results.append({"problem": problem, "steps": steps, "optimizer": opt, "seed": seed,
                          "blew_up": blew_up(curve), "initial_loss": float(curve[0]),
                          "final_loss": float(np.mean(curve[-tail:])),
                          "max_loss": float(np.nanmax(np.where(np.isfinite(curve), curve, np.nan)))
                          if np.any(np.isfinite(curve)) else float("nan")})
        done += 1
        print(f"[stability] {done}/{total} {problem} {steps} steps {opt}: blow-ups "
              f"{sum(r['blew_up'] for r in results[-args.seeds:])}/{args.seeds}, final loss "
              f"{np.median([r['final_loss'] for r in results[-args.seeds:]]):.4g} "
              f"({time.time() - t0:.0f} s)", flush=True)
  print()
  print(format_table(results, problems, args.steps, optimizers))
  summary = {o: sum(r["blew_up"] for r in results if r["optimizer"] == o) for o in optimizers}
  runs = {o: sum(1 for r in results if r["optimizer"] == o) for o in optimizers}
  print()
  for o in optimizers:
    rate = ("" if o == "mnemosyne_v1" else
            f" (Mechanic's scale, {args.schedule} schedule at peak 1)" if "mechanic" in o else
            f" (learning rate {args.learning_rate:g}, {args.schedule} schedule)")
    print(f"blow-ups of {o}: {summary[o]} of {runs[o]} runs{rate}")
  out = {"results": results, "blow_ups": summary, "runs": runs, "schedule": args.schedule,
         "learning_rate": args.learning_rate, "mnemosyne_overrides": overrides,
         "theta": args.theta, "celo2_run": args.celo2_run, "seconds": time.time() - t0}
  if args.json:
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
      json.dump(out, f, indent=1)
    print(f"results: {args.json}")
  if args.plot:
    plot(results, args.plot)
    print(f"plot: {args.plot}")
  return out


def plot(results, path) -> None:
  """Heat map: rows problem x horizon, columns optimizers, colour the median final loss divided by
  AdamW's (log scale, 1/10 to 10), annotated; a blow-up count is printed in the cell."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  from matplotlib import colors  # pylint: disable=g-import-not-at-top
  rows = list(dict.fromkeys((r["problem"], r["steps"]) for r in results))
  opts = list(dict.fromkeys(r["optimizer"] for r in results))
  med = lambda p, t, o: float(np.median([r["final_loss"] for r in results
                                         if (r["problem"], r["steps"], r["optimizer"]) == (p, t, o)]))
  blow = lambda p, t, o: sum(r["blew_up"] for r in results
                             if (r["problem"], r["steps"], r["optimizer"]) == (p, t, o))
  ref = "adamw" if "adamw" in opts else opts[-1]
  ratio = np.array([[med(p, t, o) / med(p, t, ref) for o in opts] for p, t in rows])
  fig, ax = plt.subplots(figsize=(1.6 * len(opts) + 2.5, 0.42 * len(rows) + 1.4))
  im = ax.imshow(np.clip(ratio, 0.1, 10), cmap="RdYlGn_r", norm=colors.LogNorm(0.1, 10), aspect="auto")
  for i, (p, t) in enumerate(rows):
    for j, o in enumerate(opts):
      b = blow(p, t, o)
      ax.text(j, i, f"{ratio[i, j]:.2g}" + (f"\n{b} blow-up{'s' if b > 1 else ''}" if b else ""),
              ha="center", va="center", fontsize=7, color="k", weight="bold" if b else "normal")
  ax.set_xticks(range(len(opts)), opts, fontsize=8)
  ax.set_yticks(range(len(rows)), [f"{p} ({t})" for p, t in rows], fontsize=8)
  ax.set_title(f"median final training loss / {ref}'s (lower is better)", fontsize=9)
  fig.colorbar(im, ax=ax, shrink=0.8)
  fig.tight_layout()
  os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
  fig.savefig(path, dpi=100)
  plt.close(fig)


def format_cell(runs) -> str:
  """'blow-ups/runs, median final loss' of some runs (the blow-ups bold when any); '' if none."""
  if not runs:
    return ""
  b = sum(r["blew_up"] for r in runs)
  return (f"{'**' if b else ''}{b}/{len(runs)}{'**' if b else ''}, "
          f"{np.median([r['final_loss'] for r in runs]):.3g}")


def format_table(results, problems, steps_list, optimizers) -> str:
  """Markdown: per problem and horizon, per optimizer 'blow-ups/runs, median final loss'."""
  head = "| problem | steps | " + " | ".join(optimizers) + " |"
  lines = [head, "|---|---:|" + "---:|" * len(optimizers)]
  for problem in problems:
    for steps in steps_list:
      cells = [format_cell([r for r in results if r["problem"] == problem and r["steps"] == steps
                            and r["optimizer"] == o]) for o in optimizers]
      lines.append(f"| {problem} | {steps} | " + " | ".join(cells) + " |")
  return "\n".join(lines)


def screens_table(directory, settings, columns, first="setting") -> str:
  """Markdown of a folder of screens, one ``mnemosyne-stability --json`` file per setting and
  learning rate named ``<setting>_lr<rate>.json`` (rates 1e-3, 2e-3, 3e-3): a row per file, a
  ``format_cell`` per column; ``columns``: (optimizer, header) pairs.  Files of other settings are
  an error (a screen the table would leave out)."""
  rows = [f"| {first} | learning rate | " + " | ".join(h for _, h in columns) + " |",
          "|---|---:|" + "---:|" * len(columns)]
  for lr in ("1e-3", "2e-3", "3e-3"):
    for setting in settings:
      path = os.path.join(directory, f"{setting}_lr{lr}.json")
      if not os.path.exists(path):
        continue
      with open(path) as f:
        results = json.load(f)["results"]
      cells = [format_cell([r for r in results if r["optimizer"] == o]) for o, _ in columns]
      rows.append(f"| {setting} | {lr} | " + " | ".join(cells) + " |")
  names = {os.path.basename(p).rsplit("_lr", 1)[0] for p in glob.glob(os.path.join(directory, "*_lr*.json"))}
  if not names <= set(settings):
    raise ValueError(f"{directory} holds screens of settings {sorted(names - set(settings))} that "
                     "the table does not list; add them to its settings.")
  return "\n".join(rows)


def main(argv=None):
  run(argv)


if __name__ == "__main__":
  main()
