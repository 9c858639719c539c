"""Which tensors' initial scale makes the default end 6.8 % apart on held_out's two byte-level LMs.

held_out's ``transformer_lm_kjv_tiny`` draws every kernel, the embedding and the positions from
N(0, 0.02^2); ``transformer_lm_kjv_tiny_flaxinit`` is the same model with flax's initialisers
(LeCun-normal kernels, std 1/sqrt(fan_in): 0.125 for D = 64, 0.0625 for the MLP's second kernel;
a unit-variance embedding and positions).  Biases (zeros) and layer norms (ones, zeros) are the
same in both.  This script also trains the model from the two hybrid starts: flax's kernels with
the std-0.02 embedding and positions, and std-0.02 kernels with flax's embedding and positions,
through ``mnemosyne-eval``'s training loop (``evaluation.run_one``: the task's own 1,000 steps,
seed 0, the held_out runs' batches), with ``mnemosyne()`` untuned (learning rate 1e-3),
``mnemosyne(learning_rate=3.16e-3)`` (the rate LR tuning picks for it on both LMs,
``../held_out_orthogonal_tuned/``), ``mnemosyne_mechanic(num_steps=1000)`` (its default
warmup-cosine shape), ``mnemosyne(init_scale_reference=0.02)`` (each matrix's step times
max(1, rms(p_0) / 0.02)) and AdamW at 1e-3.  Prints, and writes into ``results.json`` beside this
file: per start and optimizer the final test loss.

    .venv/bin/python docs/results/eval/lm_init_diagnosis/measure.py [--optimizers NAME,...]
"""

import argparse
import dataclasses
import json
import os

import jax
import optax

import mnemosyne_lopt
from mnemosyne_lopt import evaluation

HERE = os.path.dirname(os.path.abspath(__file__))
GPT, FLAX = "transformer_lm_kjv_tiny", "transformer_lm_kjv_tiny_flaxinit"
EMBEDDING = ("embed", "position")
OPTIMIZERS = {
    "mnemosyne() 1e-3": lambda n: mnemosyne_lopt.mnemosyne(),
    "mnemosyne() 3.16e-3": lambda n: mnemosyne_lopt.mnemosyne(learning_rate=3.16e-3),
    "mnemosyne_mechanic()": lambda n: mnemosyne_lopt.mnemosyne_mechanic(num_steps=n),
    "mnemosyne(init_scale_reference=0.02)": lambda n: mnemosyne_lopt.mnemosyne(init_scale_reference=0.02),
    "AdamW 1e-3": lambda n: optax.adamw(1e-3),
}


class HybridInit:
  """``base`` (a task) whose ``init`` takes the embedding and positions from ``donor``'s init."""

  def __init__(self, base, donor):
    self._base, self._donor = base, donor

  def __getattr__(self, name):
    return getattr(self._base, name)

  def init(self, key):
    def pick(path, mine, theirs):
      return theirs if str(getattr(path[0], "key", path[0])) in EMBEDDING else mine
    return jax.tree_util.tree_map_with_path(pick, self._base.init(key), self._donor.init(key))


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
  parser.add_argument("--optimizers", default=",".join(OPTIMIZERS),
                      help="comma-separated names of OPTIMIZERS to run (default: all); their "
                           "results replace those in results.json, the others are kept")
  names = [n for n in parser.parse_args().optimizers.split(",") if n]
  for name in names:
    if name not in OPTIMIZERS:
      parser.error(f"unknown optimizer {name!r}; choose from {', '.join(OPTIMIZERS)}")
  specs = {s.name: s for s in evaluation.suite("held_out")}
  gpt, flax = specs[GPT], specs[FLAX]
  starts = {
      "kernels 0.02, embedding 0.02 (held_out)": gpt,
      "kernels 0.02, embedding flax": dataclasses.replace(
          gpt, name=GPT + "__flax_embedding", make=lambda seed: HybridInit(gpt.make(seed), flax.make(seed))),
      "kernels flax, embedding 0.02": dataclasses.replace(
          flax, name=FLAX + "__gpt_embedding", make=lambda seed: HybridInit(flax.make(seed), gpt.make(seed))),
      "kernels flax, embedding flax (held_out)": flax,
  }
  path = os.path.join(HERE, "results.json")
  results = {}
  if os.path.exists(path):
    with open(path) as f:
      results = json.load(f)
  for name in names:
    opt = evaluation.custom_optimizer(name, OPTIMIZERS[name])
    for label, spec in starts.items():
      out = evaluation.run_one(opt, opt.hyper, spec, 0, spec.num_steps)
      results.setdefault(label, {})[name] = out["final_test"]
      print(f"{name:22s} {label:42s} final test {out['final_test']:.4f}", flush=True)
  with open(path, "w") as f:
    json.dump(results, f, indent=1)


if __name__ == "__main__":
  main()
