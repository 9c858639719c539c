"""Shared by the benchmark scripts: which code a measurement was made with."""

import os

def code_version() -> dict:
  """Which code was measured: git HEAD, whether mnemosyne_lopt/ has uncommitted changes, and a
  sha256 (first 12 hex digits) over the package's .py files (the package is edited often)."""
  import hashlib
  import subprocess
  pkg = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "mnemosyne_lopt")
  digest = hashlib.sha256()
  for name in sorted(os.listdir(pkg)):
    if name.endswith(".py"):
      with open(os.path.join(pkg, name), "rb") as f:
        digest.update(name.encode() + b"\0" + f.read())
  info = dict(package_sha256=digest.hexdigest()[:12])
  try:
    root = os.path.dirname(pkg)
    info["git_head"] = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=root,
                                      capture_output=True, text=True, check=True).stdout.strip()
    dirty = subprocess.run(["git", "status", "--porcelain", "--", "mnemosyne_lopt"], cwd=root,
                           capture_output=True, text=True, check=True).stdout.strip()
    info["package_modified_since_head"] = bool(dirty)
  except (OSError, subprocess.CalledProcessError):
    pass
  return info


def memory_stats(compiled) -> dict:
  """Buffer sizes XLA assigned to a compiled computation (``compiled.memory_analysis()``), bytes.

  ``peak_bytes`` = argument + output + temp - alias: the inputs, the outputs that could not be
  written into donated inputs, and the scratch space, all live at once at worst.  Nothing is
  allocated to find it.
  """
  m = compiled.memory_analysis()
  out = dict(argument_bytes=int(m.argument_size_in_bytes), output_bytes=int(m.output_size_in_bytes),
             temp_bytes=int(m.temp_size_in_bytes), alias_bytes=int(m.alias_size_in_bytes))
  out["peak_bytes"] = (out["argument_bytes"] + out["output_bytes"] + out["temp_bytes"]
                       - out["alias_bytes"])
  return out


def rnn_counter_from_one(state):
  """RNNMLPLOpt state whose validation-loss normaliser counts from 1 (see ``RNNMLPLOptFixed``)."""
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  acc = state.valid_loss_accum
  return state.replace(valid_loss_accum=acc.replace(updates=jnp.ones_like(acc.updates)))


def rnn_mlp_lopt_fixed():
  """learned_optimization's RNNMLPLOpt whose inner optimizer's ``init`` starts that counter at 1.

  Its jitted update turns every parameter into NaN on the first step on current JAX/XLA (eagerly
  it does not): the validation-loss normaliser's corrected mean, mean / (1 - decay**updates +
  1e-8) with updates = 0, is 0 / 1e-8 = 0 eagerly, but XLA reassociates (1 - 1) + 1e-8 into
  (1 + 1e-8) - 1 = 0 in float32, giving 0 / 0.  Starting the counter at 1 (mean still 0) gives the
  eager value, and changes neither the work per step nor the state size.  Used wherever the
  state is created inside a trace (PES), where ``rnn_counter_from_one`` cannot be applied after.
  """
  from learned_optimization.learned_optimizers import rnn_mlp_lopt  # pylint: disable=g-import-not-at-top

  class RNNMLPLOptFixed(rnn_mlp_lopt.RNNMLPLOpt):

    def opt_fn(self, theta, is_training=False):
      opt = super().opt_fn(theta, is_training)
      inner_init = opt.init
      opt.init = lambda *a, **k: rnn_counter_from_one(inner_init(*a, **k))
      return opt

  return RNNMLPLOptFixed()
