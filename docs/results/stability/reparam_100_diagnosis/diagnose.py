"""Where the x100 re-parameterised regression's late blow-up comes from (stability suite, 3,000 steps).

    PYTHONPATH=. .venv/bin/python docs/results/stability/reparam_100_diagnosis/diagnose.py [--lr 2e-3] [--seed 0]

Trains ``reparam_100`` (``mnemosyne_lopt.stability``: the teacher-student regression 16-64-1 whose
parameters are w with p = 100 w) with ``mnemosyne(lr)`` and ``optax.adamw(lr)`` on the same batches
and records per step: the training loss; per tensor the RMS of Mnemosyne's direction Delta
(update = -lr (Delta + 0.1 w)), the RMS of Adam's direction A = m_hat / (sqrt(v_hat) + eps) from
the same optimizer state, and the RMS of w; for AdamW the RMS of its step / lr and of w.
Writes ``lr<lr>_seed<seed>.json`` and a PNG of the curves next to this file.
"""
import argparse
import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax

import mnemosyne_lopt
from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
STEPS = 3000


def rms(x):
  return jnp.sqrt(jnp.mean(jnp.square(x)))


def run(tx, init, loss, seed, mnemosyne, lr):
  key = jax.random.PRNGKey(seed)
  params = init(jax.random.fold_in(key, 0))
  keys = jax.random.split(jax.random.fold_in(key, 1), STEPS)

  def body(carry, k):
    p, s = carry
    value, grads = jax.value_and_grad(loss)(p, k)
    updates, s = tx.update(grads, s, p)
    new_p = optax.apply_updates(p, updates)
    leaves_u, leaves_p = jax.tree_util.tree_leaves(updates), jax.tree_util.tree_leaves(p)
    if mnemosyne:
      inner = s[0]
      t = inner.iteration.astype(jnp.float32)
      ms, vs = jax.tree_util.tree_leaves(inner.momentum), jax.tree_util.tree_leaves(inner.second_moment)
      adam = [rms((m / (1 - 0.9 ** t)) / (jnp.sqrt(v / (1 - 0.999 ** t)) + 1e-8)) for m, v in zip(ms, vs)]
      direction = [rms(-u / lr - 0.1 * w) for u, w in zip(leaves_u, leaves_p)]
    else:
      adam = [rms(u) / lr for u in leaves_u]
      direction = adam
    return (new_p, s), (value, jnp.stack(direction), jnp.stack(adam),
                        jnp.stack([rms(w) for w in leaves_p]))
  _, out = jax.jit(lambda p, s: jax.lax.scan(body, (p, s), keys))(params, tx.init(params))
  return [np.asarray(o).tolist() for o in out]


def main():
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--lr", type=float, default=2e-3)
  parser.add_argument("--seed", type=int, default=0)
  args = parser.parse_args()
  init, loss = stability.make_problem("reparam_100", 0)
  names = [jax.tree_util.keystr(p) for p, _ in
           jax.tree_util.tree_flatten_with_path(init(jax.random.PRNGKey(0)))[0]]
  out = {"lr": args.lr, "seed": args.seed, "tensors": names}
  for name, tx, is_m in (("mnemosyne", mnemosyne_lopt.mnemosyne(args.lr, name="plain"), True),
                         ("adamw", optax.adamw(args.lr), False)):
    loss_curve, direction, adam, w = run(tx, init, loss, args.seed, is_m, args.lr)
    out[name] = {"loss": loss_curve, "direction_rms": direction, "adam_rms": adam, "w_rms": w}
    first = loss_curve[0]
    late = [i for i, l in enumerate(loss_curve) if i >= STEPS // 20 and not l < 10 * first]
    print(f"{name}: initial {first:.4f}, final (last 5 %) {np.mean(loss_curve[-STEPS // 20:]):.4f}, "
          f"steps above 10x after the first 5 %: {len(late)}" + (f" (first at {late[0]})" if late else ""))
  base = os.path.join(HERE, f"lr{args.lr:g}_seed{args.seed}")
  with open(base + ".json", "w") as f:
    json.dump(out, f)
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  fig, axes = plt.subplots(4, 1, figsize=(8, 10), sharex=True)
  for name, style in (("mnemosyne", "-"), ("adamw", "--")):
    r = out[name]
    axes[0].semilogy(r["loss"], style, label=name, lw=0.7)
    for j, tname in enumerate(names):
      axes[1].semilogy(np.asarray(r["direction_rms"])[:, j], style, lw=0.7, label=f"{name} {tname}")
      axes[3].plot(np.asarray(r["w_rms"])[:, j], style, lw=0.7, label=f"{name} {tname}")
      if name == "mnemosyne":
        axes[2].semilogy(np.asarray(r["adam_rms"])[:, j], style, lw=0.7, label=tname)
  axes[0].set_ylabel("training loss"); axes[0].legend(fontsize=7)
  axes[1].set_ylabel("step RMS / lr"); axes[1].legend(fontsize=6, ncol=2)
  axes[2].set_ylabel("Mnemosyne's Adam\ndirection RMS"); axes[2].legend(fontsize=6)
  axes[3].set_ylabel("RMS of w"); axes[3].set_xlabel("step"); axes[3].legend(fontsize=6, ncol=2)
  fig.tight_layout(); fig.savefig(base + ".png", dpi=100)
  print(f"wrote {base}.json and .png")


if __name__ == "__main__":
  main()
