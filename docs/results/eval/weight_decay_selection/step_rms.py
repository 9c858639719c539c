"""Per-tensor step RMS / learning rate and parameter norms of optax.adamw(1e-3) and
mnemosyne_lopt.mnemosyne(weight_decay=0) over one held_out task (seed 0), every 5 % of its steps.

    PYTHONPATH=. .venv/bin/python docs/results/eval/weight_decay_selection/step_rms.py \
        mnist5k28_mlp128x64_relu_10k          # writes step_rms_<task>.json next to this file
"""
import sys, json, time
import jax, jax.numpy as jnp, numpy as np, optax
import mnemosyne_lopt
from mnemosyne_lopt import evaluation
from mnemosyne_lopt.outer_trainers import meta_training

spec = [s for s in evaluation.suite("held_out") if s.name == sys.argv[1]][0]
steps = int(sys.argv[2]) if len(sys.argv) > 2 else spec.num_steps
task = spec.make(0)
valid = meta_training.stack_batches(task.datasets.outer_valid, 20)
test = meta_training.stack_batches(task.datasets.test, 20)
params0 = task.init(jax.random.PRNGKey(0))
out = {}
for name, tx in [("adamw", optax.adamw(1e-3)), ("mnemosyne", mnemosyne_lopt.mnemosyne(weight_decay=0.0, name="plain"))]:
  t0 = time.time()
  state = tx.init(params0); params = params0
  @jax.jit
  def step(params, state, batch, key):
    loss, g = jax.value_and_grad(task.loss)(params, key, batch)
    if name == "mnemosyne":
      u, state = tx.update(g, state, params, loss=loss)
    else:
      u, state = tx.update(g, state, params)
    rms = [jnp.sqrt(jnp.mean(x ** 2)) / 1e-3 for x in jax.tree_util.tree_leaves(u)]
    pn = [jnp.sqrt(jnp.sum(x ** 2)) for x in jax.tree_util.tree_leaves(params)]
    return optax.apply_updates(params, u), state, loss, jnp.stack(rms), jnp.stack(pn)
  @jax.jit
  def ev(params, b):
    return jnp.mean(jax.vmap(lambda x: task.loss(params, jax.random.PRNGKey(0), x))(b))
  rec = []
  it = iter(task.datasets.train)
  for i in range(steps):
    params, state, loss, rms, pn = step(params, state, next(it), jax.random.PRNGKey(i))
    if i % (steps // 20) == 0 or i == steps - 1:
      rec.append(dict(step=i, loss=float(loss), test=float(ev(params, test)), rms=np.asarray(rms).round(3).tolist(),
                      pnorm=np.asarray(pn).round(2).tolist()))
      print(name, rec[-1], flush=True)
  out[name] = rec
  print(name, "seconds", time.time() - t0, flush=True)
import os
json.dump(out, open(os.path.join(os.path.dirname(os.path.abspath(__file__)), f"step_rms_{sys.argv[1]}.json"), "w"))
