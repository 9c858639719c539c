"""Mnemosyne's update with parameters sharded over 8 (virtual CPU) devices; prints one JSON line.

Run by tests/test_sharding.py in a subprocess, because the device count must be fixed before JAX
starts (the rest of the suite runs on one device):

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/sharded_inner_check.py \
        [CHUNK_LENGTH [LAYOUT,LAYOUT...]] [--propagation] [--no_vit]

For each layout (data-parallel: replicated parameters; FSDP: the first axis, or the largest axis,
split over all 8 devices; tensor-parallel: Megatron-style column/row splits over a 4-device "model" axis of a 2x4
mesh) it reports: the shardings of params/momentum/second_moment after jitted updates (with the
state's shardings from ``mnemosyne_lopt.sharding`` and, separately, as XLA propagates them on its
own), every all-gather / all-to-all in the compiled update with its result shape, whether one of
them produces a parameter's full shape, and the largest difference to the same updates on one
device.  Then a tiny ViT on real Fashion-MNIST patches is trained for a few steps with data- and
tensor-parallel shardings against the same run on one device.
"""

import json
import os
import re
import sys

import jax
import jax.numpy as jnp
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import optax

import mnemosyne_lopt
from mnemosyne_lopt import sharding as msharding

_COLLECTIVE = re.compile(r"=\s*(\(?[a-z0-9]+\[[0-9,]*\][^ ]*(?:, [a-z0-9]+\[[0-9,]*\][^ ]*)*\)?)\s+"
                         r"(all-gather|all-to-all|all-reduce|collective-permute|reduce-scatter)"
                         r"(?:-start)?\(")
_SHAPE = re.compile(r"[a-z0-9]+\[([0-9,]*)\]")


def collectives(hlo_text):
  """[(op, [result shapes])] of the collectives in compiled HLO text."""
  found = []
  for m in _COLLECTIVE.finditer(hlo_text):
    shapes = [tuple(int(d) for d in s.split(",") if d) for s in _SHAPE.findall(m.group(1))]
    found.append((m.group(2), shapes))
  return found


def spec_of(x):
  s = x.sharding
  return str(s.spec) if isinstance(s, NamedSharding) else ("replicated" if s.is_fully_replicated
                                                          else str(s))


def layouts(devices):
  mesh8 = Mesh(np.array(devices), ("fsdp",))
  mesh24 = Mesh(np.array(devices).reshape(2, 4), ("data", "model"))
  shapes = {"w1": (128, 256), "w2": (256, 128), "b1": (256,)}
  return shapes, {
      "data_parallel": (mesh24, {"w1": P(), "w2": P(), "b1": P()}),
      # FSDP: each tensor split over all 8 devices along its first axis (contiguous blocks of the
      # flattened tensor, as PyTorch FSDP's flat shards).
      "fsdp": (mesh8, {"w1": P("fsdp", None), "w2": P("fsdp", None), "b1": P("fsdp")}),
      # FSDP along the largest axis, which for w1 is its second.
      "fsdp_largest_axis": (mesh8, {"w1": P(None, "fsdp"), "w2": P("fsdp", None), "b1": P("fsdp")}),
      "tensor_parallel": (mesh24, {"w1": P(None, "model"), "w2": P("model", None),
                                   "b1": P("model")}),
  }


def loss_fn(params, x):
  h = jax.nn.gelu(x @ params["w1"] + params["b1"])
  return jnp.mean(jnp.square(h @ params["w2"] - x))


def check_layouts(lopt, theta, steps=3, names=None, propagation=False):
  shapes, all_layouts = layouts(jax.devices())
  all_layouts = {k: v for k, v in all_layouts.items() if names is None or k in names}
  keys = jax.random.split(jax.random.PRNGKey(0), len(shapes) + 1)
  params0 = {k: 0.1 * jax.random.normal(kk, s) for (k, s), kk in zip(sorted(shapes.items()), keys)}
  x = jax.random.normal(keys[-1], (16, 128))
  opt = lopt.opt_fn(theta)
  grad_fn = jax.grad(loss_fn)

  # Only the optimizer's update is checked: the model's own forward/backward pass gathers FSDP
  # weights by design, so gradients are computed by a separate program and passed in.
  def step(state, grads):
    return opt.update(state, grads)

  grads_of = jax.jit(lambda state, x: grad_fn(opt.get_params(state), x))
  # Reference: one device.
  state = opt.init(params0, num_steps=100)
  for _ in range(steps):
    state = jax.jit(step)(state, grads_of(state, x))
  reference = opt.get_params(state)
  full_shapes = {tuple(s) for s in shapes.values()}
  # The tree's meta-token CAM memory [S, r, d] / [S, r]: never gathered either.
  full_shapes |= {tuple(l.shape) for l in jax.tree_util.tree_leaves(state.memory)}

  report = {}
  for name, (mesh, specs) in all_layouts.items():
    shardings = {k: NamedSharding(mesh, s) for k, s in specs.items()}
    # From host copies: a device_put may alias params0's buffer, which donation would delete.
    params = jax.device_put(jax.tree_util.tree_map(np.asarray, params0), shardings)
    state = msharding.shard_like_params(opt.init(params, num_steps=100), shardings)
    state_sh = msharding.state_shardings(state, shardings)
    xs = jax.device_put(x, NamedSharding(mesh, P()))
    grads_sharded = jax.jit(grads_of, out_shardings=shardings)
    jitted = jax.jit(step, in_shardings=(state_sh, shardings), out_shardings=state_sh,
                     donate_argnums=(0,))
    grads = grads_sharded(state, xs)
    colls = collectives(jitted.lower(state, grads).compile().as_text())
    # XLA's own propagation, without out_shardings (one more compilation: optional).
    free = jax.jit(step)(state, grads) if propagation else None
    for _ in range(steps):
      state = jitted(state, grads_sharded(state, xs))
    got = opt.get_params(state)
    report[name] = {
        "param_specs": {k: str(v) for k, v in specs.items()},
        "params": {k: spec_of(v) for k, v in got.items()},
        "momentum": {k: spec_of(v) for k, v in state.momentum.items()},
        "second_moment": {k: spec_of(v) for k, v in state.second_moment.items()},
        "momentum_without_out_shardings": (
            {k: spec_of(v) for k, v in free.momentum.items()} if propagation else None),
        "momentum_shard_shapes": {k: list(v.addressable_shards[0].data.shape)
                                  for k, v in state.momentum.items()},
        "memory_bytes_per_device": int(sum(
            l.addressable_shards[0].data.nbytes for l in jax.tree_util.tree_leaves(state.memory))),
        "memory_bytes_total": int(sum(l.nbytes for l in jax.tree_util.tree_leaves(state.memory))),
        "memory_specs": [spec_of(l) for l in jax.tree_util.tree_leaves(state.memory)],
        "collectives": [f"{op} {list(shp)}" for op, shp in colls],
        "full_param_all_gathers": [f"{op} {list(shp)}" for op, shp in colls
                                   if op == "all-gather" and any(s in full_shapes for s in shp)],
        "max_abs_diff_vs_one_device": float(max(
            jnp.max(jnp.abs(np.asarray(got[k]) - np.asarray(reference[k]))) for k in got)),
    }
  return report


# --- tiny ViT on Fashion-MNIST ---------------------------------------------------------------
def vit_init(key, d=64, patches=16, patch_dim=49, hidden=256):
  k = jax.random.split(key, 8)
  n = lambda kk, shape, fan_in: jax.random.normal(kk, shape) / np.sqrt(fan_in)
  return {"embed": n(k[0], (patch_dim, d), patch_dim), "pos": 0.02 * jax.random.normal(k[1], (patches, d)),
          "qkv": n(k[2], (d, 3 * d), d), "out": n(k[3], (d, d), d),
          "mlp_in": n(k[4], (d, hidden), d), "mlp_out": n(k[5], (hidden, d), hidden),
          "head": n(k[6], (d, 10), d)}


def vit_specs():
  """Megatron-style tensor parallelism over "model"; everything else replicated."""
  return {"embed": P(), "pos": P(), "qkv": P(None, "model"), "out": P("model", None),
          "mlp_in": P(None, "model"), "mlp_out": P("model", None), "head": P()}


def vit_loss(params, images, labels, heads=4):
  b = images.shape[0]
  patches = images.reshape(b, 4, 7, 4, 7).transpose(0, 1, 3, 2, 4).reshape(b, 16, 49)
  x = patches @ params["embed"] + params["pos"]
  d = x.shape[-1]
  q, k, v = jnp.split(x @ params["qkv"], 3, axis=-1)
  split = lambda t: t.reshape(b, 16, heads, d // heads)
  att = jax.nn.softmax(jnp.einsum("bqhd,bkhd->bhqk", split(q), split(k)) / np.sqrt(d // heads), -1)
  x = x + jnp.einsum("bhqk,bkhd->bqhd", att, split(v)).reshape(b, 16, d) @ params["out"]
  x = x + jax.nn.gelu(x @ params["mlp_in"]) @ params["mlp_out"]
  logits = jnp.mean(x, axis=1) @ params["head"]
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def train_vit(lopt, theta, steps=5, batch=64):
  from mnemosyne_lopt.tasks import datasets  # pylint: disable=g-import-not-at-top
  images, labels, _, _ = datasets.load_images("fashion_mnist")
  tx = mnemosyne_lopt.to_optax(lopt, theta, num_steps=100)
  params0 = vit_init(jax.random.PRNGKey(0))

  def step(params, state, images, labels):
    loss, grads = jax.value_and_grad(vit_loss)(params, images, labels)
    updates, state = tx.update(grads, state, params, loss=loss)
    return optax.apply_updates(params, updates), state, loss

  batches = [(images[i * batch:(i + 1) * batch], labels[i * batch:(i + 1) * batch])
             for i in range(steps)]
  params, state, ref_losses = params0, tx.init(params0), []
  single = jax.jit(step)
  for xb, yb in batches:
    params, state, loss = single(params, state, xb, yb)
    ref_losses.append(float(loss))
  ref_params = params

  mesh = Mesh(np.array(jax.devices()).reshape(2, 4), ("data", "model"))
  p_sh = {k: NamedSharding(mesh, s) for k, s in vit_specs().items()}
  params = jax.device_put(jax.tree_util.tree_map(np.asarray, params0), p_sh)
  state = msharding.shard_like_params(tx.init(params), p_sh)
  s_sh = msharding.state_shardings(state, p_sh)
  data_sh = NamedSharding(mesh, P("data"))
  sharded = jax.jit(step, in_shardings=(p_sh, s_sh, data_sh, data_sh),
                    out_shardings=(p_sh, s_sh, NamedSharding(mesh, P())), donate_argnums=(0, 1))
  colls = collectives(sharded.lower(params, state, batches[0][0], batches[0][1]).compile().as_text())
  full = {tuple(v.shape) for v in params0.values() if v.ndim == 2}
  full |= {tuple(l.shape) for l in jax.tree_util.tree_leaves(state.inner.memory)}
  losses = []
  for xb, yb in batches:
    params, state, loss = sharded(params, state, jax.device_put(xb, data_sh), jax.device_put(yb, data_sh))
    losses.append(float(loss))
  return {"losses_sharded": losses, "losses_one_device": ref_losses,
          "momentum_specs": {k: spec_of(v) for k, v in state.inner.momentum.items()},
          "mlp_in_momentum_shard_shape": list(state.inner.momentum["mlp_in"].addressable_shards[0].data.shape),
          "memory_specs": [spec_of(l) for l in jax.tree_util.tree_leaves(state.inner.memory)],
          "memory_shard_shapes": [list(l.addressable_shards[0].data.shape)
                                  for l in jax.tree_util.tree_leaves(state.inner.memory)],
          "collectives": [f"{op} {list(shp)}" for op, shp in colls],
          "full_param_all_gathers": [f"{op} {list(shp)}" for op, shp in colls
                                     if op == "all-gather" and any(s in full for s in shp)],
          "max_abs_param_diff": float(max(jnp.max(jnp.abs(np.asarray(params[k]) - np.asarray(ref_params[k])))
                                          for k in params))}


def main(argv):
  assert jax.device_count() == 8, (
      f"needs 8 devices (XLA_FLAGS=--xla_force_host_platform_device_count=8), got {jax.device_count()}")
  flags = [a for a in argv if a.startswith("--")]
  args = [a for a in argv if not a.startswith("--")]
  chunk_length = int(args[0]) if args else 1024
  names = args[1].split(",") if len(args) > 1 else None
  # stream_multiple=8: these small trees' few CAM streams are padded to 8, as a large model's
  # are by default (S >= 64 streams), so the memory splits over the 8 devices.
  lopt = mnemosyne_lopt.MnemosyneLOpt(chunk_length=chunk_length, stream_multiple=8)
  theta = lopt.init(jax.random.PRNGKey(1))
  out = {"chunk_length": chunk_length,
         "layouts": check_layouts(lopt, theta, names=names, propagation="--propagation" in flags)}
  if "--no_vit" not in flags:
    out["vit"] = train_vit(lopt, theta, steps=3)
  print("RESULT " + json.dumps(out))


if __name__ == "__main__":
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  main(sys.argv[1:])
