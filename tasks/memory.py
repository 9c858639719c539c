"""Per-device memory of a task's training state under a device mesh, from shapes alone.

Nothing is allocated: parameter shapes come from ``jax.eval_shape(task.init, key)``, optimizer
states from ``jax.eval_shape`` of ``optax.adam(lr).init`` and of Mnemosyne's
``MnemosyneLOpt().opt_fn(theta).init(params, num_steps=...)`` (theta itself from
``jax.eval_shape(MnemosyneLOpt().init, key)``).

Sharding rule (FSDP with optional tensor parallelism), one place for the whole project
(``partition_spec``).  A mesh is ``data`` devices, or ``data x model`` devices.  For each tensor:

1. the largest dimension divisible by ``data`` is split over the ``data`` axis (FSDP: every device
   holds 1/data of the tensor); ties go to the earlier dimension;
2. with a ``model`` axis > 1, the largest *other* dimension divisible by ``model`` is split over it
   (tensor parallelism);
3. a tensor with no such dimension (scalars, odd sizes) is replicated on that axis.

A tensor's optimizer state (Adam's mu and nu, Mnemosyne's momentum and second moment) has the
tensor's shape and is sharded the same way.  Mnemosyne's meta-token CAM memory, one [S, r, d]
array for the tree, is split along S as ``mnemosyne_lopt.sharding.stream_axes`` says (over the
mesh axes whose sizes divide S), and so are its per-chunk moment sums [C, 2] along C; in
per_coordinate mode each tensor's CAM memory is split like the tensor.  Meta-parameters theta
are replicated.  Per-device bytes of a tensor = size * itemsize / (data factor * model factor),
summed over the tree.
"""

import dataclasses
import math
from typing import Any, Dict, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax


def parse_mesh(mesh) -> Tuple[int, int]:
  """"8" -> (8, 1); "16x16" -> (16, 16) (data x model); a tuple passes through."""
  if isinstance(mesh, (tuple, list)):
    dims = tuple(int(m) for m in mesh)
  else:
    try:
      dims = tuple(int(m) for m in str(mesh).lower().split("x"))
    except ValueError:
      dims = ()
  if len(dims) == 1:
    dims = dims + (1,)
  if len(dims) != 2 or min(dims) < 1:
    raise ValueError(f"A mesh is DATA or DATAxMODEL device counts such as 8 or 16x16, got {mesh!r}.")
  return dims


def partition_spec(shape: Sequence[int], mesh) -> Tuple[Optional[str], ...]:
  """Axis name per dimension ("data", "model" or None) under the rule in the module docstring.

  ``jax.sharding.PartitionSpec(*partition_spec(x.shape, (d, m)))`` shards an array with it.
  """
  data, model = parse_mesh(mesh)
  spec = [None] * len(shape)
  order = sorted(range(len(shape)), key=lambda i: (-shape[i], i))
  for axis, n in (("data", data), ("model", model)):
    if n == 1:
      continue
    for i in order:
      if spec[i] is None and shape[i] >= n and shape[i] % n == 0:
        spec[i] = axis
        break
  return tuple(spec)


def shard_factor(shape: Sequence[int], mesh) -> int:
  """How many pieces the rule cuts a tensor of ``shape`` into (1: replicated)."""
  data, model = parse_mesh(mesh)
  spec = partition_spec(shape, mesh)
  return (data if "data" in spec else 1) * (model if "model" in spec else 1)


def per_device_bytes(tree, mesh) -> int:
  """Bytes one device holds of a tree of arrays / ShapeDtypeStructs under the sharding rule."""
  total = 0
  for leaf in jax.tree_util.tree_leaves(tree):
    shape = tuple(leaf.shape)
    total += int(np.prod(shape, dtype=np.int64)) * jnp.dtype(leaf.dtype).itemsize // shard_factor(
        shape, mesh)
  return total


def num_params(tree) -> int:
  return int(sum(int(np.prod(l.shape, dtype=np.int64)) for l in jax.tree_util.tree_leaves(tree)))


def total_bytes(tree) -> int:
  return int(sum(int(np.prod(l.shape, dtype=np.int64)) * jnp.dtype(l.dtype).itemsize
                 for l in jax.tree_util.tree_leaves(tree)))


def mnemosyne_state_bytes(state, params, mesh) -> int:
  """Per-device bytes of a Mnemosyne state (from ``mnemosyne_state_shapes``) under the rule."""
  from mnemosyne_lopt import cam  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt import sharding  # pylint: disable=g-import-not-at-top
  data, model = parse_mesh(mesh)
  rest = dataclasses.replace(state, memory=None, chunk_moments=None)
  sizes = {"data": data, "model": model}
  split = lambda rows: math.prod(sizes[a] for a in sharding.stream_axes(rows, sizes))
  moments = state.chunk_moments      # v1's carried per-chunk sums; None in v2
  total = per_device_bytes(rest, mesh)
  if moments is not None:
    total += total_bytes(moments) // split(moments.shape[0])
  if isinstance(state.memory, cam.CAMState):
    return total + total_bytes(state.memory) // split(state.memory.memory.shape[0])
  treedef = jax.tree_util.tree_structure(params)
  for p, mem in zip(jax.tree_util.tree_leaves(params), treedef.flatten_up_to(state.memory)):
    total += total_bytes(mem) // shard_factor(tuple(p.shape), mesh)
  return total


def adam_state_shapes(params, learning_rate: float = 1e-3):
  """Shapes of ``optax.adam(learning_rate).init(params)``: count, mu and nu."""
  return jax.eval_shape(optax.adam(learning_rate).init, params)


def mnemosyne_state_shapes(params, num_steps: int = 1000, lopt=None):
  """(optimizer state without the parameters it carries, theta): shapes from ``jax.eval_shape``.

  learned_optimization's optimizer state holds the parameters (``MnemosyneState.params``) and the
  model state; those are counted as parameters, not here.
  """
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  lopt = lopt if lopt is not None else mnemosyne_lopt.MnemosyneLOpt()
  theta = jax.eval_shape(lopt.init, jax.random.PRNGKey(0))
  state = jax.eval_shape(lambda th, p: lopt.opt_fn(th).init(p, num_steps=num_steps), theta, params)
  return dataclasses.replace(state, params=None, state=None), theta


@dataclasses.dataclass
class MemoryReport:
  """Per-device bytes under one mesh (see the module docstring for the sharding rule)."""
  mesh: Tuple[int, int]
  num_trainable: int
  num_frozen: int
  frozen_params: int
  params: int
  grads: int
  adam_state: int
  mnemosyne_state: int
  mnemosyne_theta: int

  @property
  def adam_total(self) -> int:
    return self.frozen_params + self.params + self.grads + self.adam_state

  @property
  def mnemosyne_total(self) -> int:
    return self.frozen_params + self.params + self.grads + self.mnemosyne_state + self.mnemosyne_theta


def memory_report(trainable, mesh, frozen=None, num_steps: int = 1000, lopt=None) -> MemoryReport:
  """Per-device bytes of frozen and trained parameters, gradients, and Adam / Mnemosyne state.

  Args:
    trainable: tree of ShapeDtypeStructs (or arrays) of the trained parameters.
    mesh: "8", "16x16", or (data, model).
    frozen: tree of the parameters that stay frozen (prompt-tuning's body), or None.
    num_steps: passed to Mnemosyne's ``init`` (does not change sizes).
  """
  mesh = parse_mesh(mesh)
  mn_state, theta = mnemosyne_state_shapes(trainable, num_steps, lopt)
  frozen = frozen if frozen is not None else {}
  grads = jax.tree_util.tree_map(lambda l: jax.ShapeDtypeStruct(l.shape, jnp.float32)
                                 if jnp.issubdtype(l.dtype, jnp.floating) else l, trainable)
  return MemoryReport(
      mesh=mesh, num_trainable=num_params(trainable), num_frozen=num_params(frozen),
      frozen_params=per_device_bytes(frozen, mesh), params=per_device_bytes(trainable, mesh),
      grads=per_device_bytes(grads, mesh),
      adam_state=per_device_bytes(adam_state_shapes(trainable), mesh),
      mnemosyne_state=mnemosyne_state_bytes(mn_state, trainable, mesh),
      mnemosyne_theta=total_bytes(theta))


def human(n: int) -> str:
  """Bytes in binary units: 1536 -> "1.50 KiB"."""
  for unit, size in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
    if n >= size:
      return f"{n / size:.2f} {unit}"
  return f"{n} B"
