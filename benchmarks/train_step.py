"""The whole training step a user pays for: forward + backward + update, Mnemosyne against Adam.

For each model, one jitted step ``loss, g = value_and_grad(task.loss)(params, key, batch)``, the
optimizer's optax update and ``optax.apply_updates``, parameters and optimizer state donated, on a
fixed real batch of the task's training data; optax ``adam(1e-3)`` against
``mnemosyne_lopt.mnemosyne()`` (the pretrained default at its default learning rate; ``--pretrained
NAME``: ``mnemosyne(name=NAME)``, e.g. ``plain``) and, with ``--muon``, against
``optax.contrib.muon(1e-3, consistent_rms=0.2)`` as ``mnemosyne-eval`` runs it (the same quintic
Newton-Schulz iteration on every 2-D weight as the default's orthogonalised step, Adam on the
rest): the cost of orthogonalising that any Muon user pays too.  After
compilation and warm-up, ``--rounds`` interleaved rounds (order alternating) of about
``--target_ms_per_round`` of timed steps each (at most ``--steps``); reported: median ms per step and the paired ratio (median over rounds of the
round-median ratio).

Models (``--models``): the two held-out tasks of ``mnemosyne-eval`` whose step a user runs,
``transformer_lm_tiny`` (``transformer_lm_kjv_tiny``: byte-level decoder, D 64, 2 layers, batch
8 x 64) and ``vit_tiny`` (``vit_tiny_finetune``: the pretrained tiny ViT fine-tuned on
Fashion-MNIST), and the same two families at a width where the model's own step is large:
``transformer_lm_wide`` (D 512, 4 layers, 8 heads, MLP 2048, batch 8 x 256) and ``vit_wide``
(ViT on Fashion-MNIST 28 x 28, patch 4, D 384, 6 layers, 6 heads, MLP 1536, batch 32).
``MODEL@B`` runs a wide model at batch size B (``transformer_lm_wide@64``: 64 x 256 tokens per
step), to see how the optimizer's share of the step falls as the batch grows.

    PYTHONPATH=. .venv/bin/python benchmarks/train_step.py --json benchmarks/results/train_step.json
"""

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

# pylint: disable=g-import-not-at-top,wrong-import-position
from benchmark_common import code_version
import mnemosyne_lopt
from mnemosyne_lopt import evaluation
from mnemosyne_lopt.tasks import registry
from mnemosyne_lopt.tasks import text_tasks
from mnemosyne_lopt.tasks import vit
import jax
import jax.numpy as jnp
import numpy as np
import optax


def build_task(name):
  name, _, batch = name.partition("@")
  if batch and name not in ("transformer_lm_wide", "vit_wide"):
    raise ValueError(f"A batch size (@{batch}) can be given to transformer_lm_wide and vit_wide, "
                     f"not to {name}.")
  if batch and not (batch.isdigit() and int(batch) > 0):
    raise ValueError(f"{name}@{batch}: the batch size after '@' must be a positive whole number.")
  batch_size = int(batch) if batch else None
  if name == "transformer_lm_tiny":
    return registry.build("transformer_lm_kjv_tiny")
  if name == "vit_tiny":
    return registry.build("vit_tiny_finetune")
  if name == "transformer_lm_wide":
    return text_tasks.TransformerLMTask(corpus="kjv", sequence_length=256,
                                        batch_size=batch_size or 8,
                                        hidden_size=512, num_layers=4, num_heads=8, mlp_dim=2048)
  if name == "vit_wide":
    return vit.ViTClassifier(dataset="fashion_mnist", patch_size=4, hidden_size=384, num_layers=6,
                             num_heads=6, mlp_dim=1536,
                             batch_size=batch_size or 32)
  raise ValueError(f"Unknown model {name!r}; use one of {', '.join(MODELS)}.")


MODELS = ("transformer_lm_tiny", "vit_tiny", "transformer_lm_wide", "vit_wide")


def make_step(task, tx):
  def step(params, opt_state, batch, key):
    loss, grads = jax.value_and_grad(task.loss)(params, key, batch)
    updates, opt_state = tx.update(grads, opt_state, params, loss=loss)
    return optax.apply_updates(params, updates), opt_state, loss
  return jax.jit(step, donate_argnums=(0, 1))


def run_model(name, args):
  task = build_task(name)
  key = jax.random.PRNGKey(0)
  params = task.init(key)
  batch = jax.tree_util.tree_map(jnp.asarray, next(task.datasets.train))
  num_params = sum(int(np.size(x)) for x in jax.tree_util.tree_leaves(params))
  num_tensors = len(jax.tree_util.tree_leaves(params))
  opts = {"adam": optax.adam(1e-3), "mnemosyne": mnemosyne_lopt.mnemosyne(name=args.pretrained)}
  if args.muon:
    opts["muon"] = evaluation.optax_transform("muon", 1e-3)
  runners = {}
  for opt_name, tx in opts.items():
    p = jax.tree_util.tree_map(jnp.copy, params)
    state = tx.init(p)
    step = make_step(task, tx)
    t0 = time.perf_counter()
    for _ in range(max(args.warmup, 1)):
      p, state, loss = step(p, state, batch, key)
    jax.block_until_ready(loss)
    t1 = time.perf_counter()
    p, state, loss = step(p, state, batch, key)
    jax.block_until_ready(loss)
    est_ms = 1e3 * (time.perf_counter() - t1)
    if not np.isfinite(float(loss)):
      raise RuntimeError(f"{name} / {opt_name}: non-finite loss in warm-up")
    runners[opt_name] = dict(box=(p, state), step=step, times=[], medians=[],
                             warmup_s=time.perf_counter() - t0, est_ms=est_ms)
  steps = int(np.clip(np.ceil(args.target_ms_per_round / max(r["est_ms"] for r in runners.values())),
                      1, args.steps))
  for rnd in range(args.rounds):
    order = list(opts) if rnd % 2 == 0 else list(opts)[::-1]
    for opt_name in order:
      r = runners[opt_name]
      p, state = r["box"]
      times = []
      for _ in range(steps):
        t0 = time.perf_counter()
        p, state, loss = r["step"](p, state, batch, key)
        jax.block_until_ready(loss)
        times.append(time.perf_counter() - t0)
      r["box"] = (p, state)
      r["times"] += times
      r["medians"].append(float(np.median(times)))
  adam, mn = runners["adam"], runners["mnemosyne"]
  row = dict(model=name, task=task.name, num_params=num_params, num_tensors=num_tensors,
             batch=batch_label(batch),
             adam_ms=1e3 * float(np.median(adam["times"])),
             mnemosyne_ms=1e3 * float(np.median(mn["times"])),
             paired_ratio=paired(mn, adam), steps_timed=len(adam["times"]))
  if "muon" in runners:
    row.update(muon_ms=1e3 * float(np.median(runners["muon"]["times"])),
               muon_paired_ratio=paired(runners["muon"], adam),
               mnemosyne_to_muon=paired(mn, runners["muon"]))
  return row


def batch_label(batch):
  """'8 x 64 tokens' for a language model's batch, '128 examples' for a classifier's."""
  if "target" in batch:
    return " x ".join(str(d) for d in np.shape(batch["target"])) + " tokens"
  return f"{np.shape(batch['label'])[0]} examples"


def paired(a, b):
  """Median over rounds of a's round median over b's."""
  return float(np.median(np.asarray(a["medians"]) / np.asarray(b["medians"])))


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--models", default=",".join(MODELS))
  parser.add_argument("--rounds", type=int, default=7)
  parser.add_argument("--steps", type=int, default=20,
                      help="at most this many timed steps per round and optimizer")
  parser.add_argument("--target_ms_per_round", type=float, default=300.0,
                      help="steps per round: about this much time, between 1 and --steps")
  parser.add_argument("--warmup", type=int, default=5)
  parser.add_argument("--json", default=None)
  parser.add_argument("--muon", action="store_true",
                      help="also time optax.contrib.muon(1e-3, consistent_rms=0.2)")
  parser.add_argument("--pretrained", default="default",
                      help="which shipped Mnemosyne: mnemosyne(name=...) (default, plain)")
  args = parser.parse_args(argv)
  rows = []
  for name in args.models.split(","):
    row = run_model(name, args)
    rows.append(row)
    print(f"[train_step] {name}: Adam {row['adam_ms']:.2f} ms, Mnemosyne {row['mnemosyne_ms']:.2f} "
          f"ms, {row['paired_ratio']:.3f}x", file=sys.stderr, flush=True)
  print(f"Whole training step (forward, backward, update; jit, donated), {jax.device_count()} "
        f"device(s), {len(os.sched_getaffinity(0))} core(s), Mnemosyne = "
        f"mnemosyne(name={args.pretrained!r})\n")
  muon = args.muon
  print("| model | task | parameters (tensors) | batch | Adam ms / step | Mnemosyne ms / step | x Adam "
        "(paired) | target |" + (" Muon ms / step | Muon x Adam | Mnemosyne x Muon |" if muon else ""))
  print("|---|---|---:|---:|---:|---:|---:|---|" + ("---:|---:|---:|" if muon else ""))
  for r in rows:
    target = "<= 1.15x" if r["model"] in ("transformer_lm_tiny", "vit_tiny") else ""
    print(f"| {r['model']} | {r['task']} | {r['num_params']:,} ({r['num_tensors']}) | "
          f"{r['batch']} | {r['adam_ms']:.2f} | {r['mnemosyne_ms']:.2f} | "
          f"{r['paired_ratio']:.3f} | {target} |"
          + (f" {r['muon_ms']:.2f} | {r['muon_paired_ratio']:.3f} | {r['mnemosyne_to_muon']:.3f} |"
             if muon else ""))
  if args.json:
    with open(args.json, "w") as f:
      json.dump(dict(rows=rows, code=code_version(), cores=len(os.sched_getaffinity(0)),
                     args=vars(args)), f, indent=1)


if __name__ == "__main__":
  main()
