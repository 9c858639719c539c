"""Regression tasks and two scale augmentations, as learned_optimization tasks and families.

* ``TeacherStudent`` / ``TeacherStudentFamily``: a student MLP fits a fixed random teacher MLP by
  mean squared error,

      L(theta) = mean_b || student_theta(x_b) - teacher(x_b) - noise_b ||^2 / out_dim,
      x_b ~ N(0, I_in),

  on a fixed set of examples drawn from a seed (train / inner_valid / outer_valid / test =
  16,000 / 2,000 / 2,000 / 4,000), batched by checkpointable ``BatchIterator``s.  The teacher's
  layers are LeCun-normal with ReLU; its outputs are rescaled so that the targets have unit
  variance over the training set.  The family samples the student's activation and init scale.
* ``LossScaleFamily``: each task's loss multiplied by c, drawn log-uniformly per task; its
  ``normalizer`` divides it back out (and caps it), so the meta-objective that learned_optimization's
  estimators compute through ``normalizer`` stays the unscaled loss while the inner optimizer sees
  gradients scaled by c.  A diverged inner run counts as ``cap`` in the meta-objective instead of
  dominating it.
"""

from typing import Optional, Sequence, Tuple

import gin
import jax
import jax.numpy as jnp
import numpy as np
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks.datasets import base as datasets_base

from mnemosyne_lopt.tasks import digits
from mnemosyne_lopt.tasks.batching import BatchIterator

_SPLITS = (("train", 16_000), ("inner_valid", 2_000), ("outer_valid", 2_000), ("test", 4_000))


def _lecun(rng, fan_in, fan_out):
  return rng.standard_normal((fan_in, fan_out)).astype(np.float32) / np.sqrt(fan_in)


def teacher_student_data(input_dim: int = 16, teacher_hidden: Sequence[int] = (32,),
                         output_dim: int = 1, noise: float = 0.0, data_seed: int = 0):
  """{split: (x [n, input_dim], y [n, output_dim])} float32 for the splits in ``_SPLITS``."""
  rng = np.random.Generator(np.random.PCG64(data_seed))
  sizes = (input_dim,) + tuple(teacher_hidden) + (output_dim,)
  layers = [(_lecun(rng, a, b), 0.1 * rng.standard_normal(b).astype(np.float32))
            for a, b in zip(sizes[:-1], sizes[1:])]

  def teacher(x):
    for i, (w, b) in enumerate(layers):
      x = x @ w + b
      if i < len(layers) - 1:
        x = np.maximum(x, 0.0)
    return x

  out, scale = {}, None
  for name, n in _SPLITS:
    x = rng.standard_normal((n, input_dim)).astype(np.float32)
    y = teacher(x)
    if scale is None:    # the training split comes first: unit-variance targets
      mean, scale = y.mean(0), y.std(0) + 1e-6
    y = (y - mean) / scale + noise * rng.standard_normal(y.shape).astype(np.float32)
    x.flags.writeable = False
    y = y.astype(np.float32)
    y.flags.writeable = False
    out[name] = (x, y)
  return out


def teacher_student_datasets(batch_size: int = 64, seed: int = 0, **data_kw) -> datasets_base.Datasets:
  """learned_optimization Datasets of {"x": [B, in], "y": [B, out]} batches (split i: seed + i)."""
  splits = teacher_student_data(**data_kw)
  its = {k: BatchIterator({"x": x, "y": y}, batch_size, seed + i)
         for i, (k, (x, y)) in enumerate(splits.items())}
  x, y = splits["train"]
  abstract = {"x": jax.ShapeDtypeStruct((batch_size, x.shape[1]), jnp.float32),
              "y": jax.ShapeDtypeStruct((batch_size, y.shape[1]), jnp.float32)}
  return datasets_base.Datasets(its["train"], its["inner_valid"], its["outer_valid"], its["test"],
                                abstract_batch=abstract)


@gin.configurable
class TeacherStudent(tasks_base.Task):
  """Mean squared error of a student MLP against a fixed teacher (module docstring)."""

  def __init__(self, input_dim: int = 16, teacher_hidden: Sequence[int] = (32,),
               student_hidden: Sequence[int] = (64,), output_dim: int = 1, noise: float = 0.0,
               batch_size: int = 64, seed: int = 0, data_seed: int = 0, activation="relu",
               init_scale=1.0, datasets: Optional[datasets_base.Datasets] = None):
    super().__init__()
    if isinstance(activation, str):
      if activation not in digits.ACTIVATION_NAMES:
        raise ValueError(f"activation must be one of {digits.ACTIVATION_NAMES}, got {activation!r}.")
      activation = digits.ACTIVATION_NAMES.index(activation)
    self.sizes = (int(input_dim),) + tuple(int(h) for h in student_hidden) + (int(output_dim),)
    self.activation, self.init_scale = activation, init_scale
    self.datasets = datasets if datasets is not None else teacher_student_datasets(
        batch_size, seed, input_dim=input_dim, teacher_hidden=teacher_hidden,
        output_dim=output_dim, noise=noise, data_seed=data_seed)
    self._name = (f"TeacherStudent_{input_dim}_{'x'.join(map(str, teacher_hidden))}_to_"
                  f"{'x'.join(map(str, student_hidden))}_{output_dim}_bs{batch_size}")

  @property
  def name(self):
    return self._name

  def init(self, key):
    keys = jax.random.split(key, len(self.sizes) - 1)
    return {f"layer{i}": {"w": jax.random.normal(k, (a, b)) * (self.init_scale / np.sqrt(a)),
                          "b": jnp.zeros((b,))}
            for i, (k, a, b) in enumerate(zip(keys, self.sizes[:-1], self.sizes[1:]))}

  def predict(self, params, x):
    n = len(self.sizes) - 1
    for i in range(n):
      x = x @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"]
      if i < n - 1:
        x = digits.activate(self.activation, x)
    return x

  def loss(self, params, key, data):
    del key
    return jnp.mean(jnp.square(self.predict(params, data["x"]) - data["y"]))


@gin.configurable
class TeacherStudentFamily(tasks_base.TaskFamily):
  """``TeacherStudent`` of one shape; each task samples the student's activation and init scale."""

  def __init__(self, input_dim: int = 16, teacher_hidden: Sequence[int] = (32,),
               student_hidden: Sequence[int] = (64,), output_dim: int = 1, noise: float = 0.0,
               batch_size: int = 64, seed: int = 0, data_seed: int = 0,
               init_scale_range: Tuple[float, float] = (0.5, 2.0)):
    super().__init__()
    self.kw = dict(input_dim=input_dim, teacher_hidden=tuple(teacher_hidden),
                   student_hidden=tuple(student_hidden), output_dim=output_dim)
    self.init_scale_range = tuple(init_scale_range)
    self.datasets = teacher_student_datasets(batch_size, seed, input_dim=input_dim,
                                             teacher_hidden=teacher_hidden, output_dim=output_dim,
                                             noise=noise, data_seed=data_seed)
    self._name = TeacherStudent(**self.kw, datasets=self.datasets).name.replace(
        "TeacherStudent", "TeacherStudentFamily") + f"_bs{batch_size}"

  @property
  def name(self):
    return self._name

  def sample(self, key):
    return digits.sample_activation_and_init_scale(key, self.init_scale_range)

  def task_fn(self, cfg):
    return TeacherStudent(**self.kw, activation=cfg["activation"], init_scale=cfg["init_scale"],
                          datasets=self.datasets)


class _LossScaled(tasks_base.Task):
  """``task`` with its loss multiplied by ``scale``; ``normalizer`` undoes it, capped."""

  def __init__(self, task, scale, cap):
    super().__init__()
    self.task, self.scale, self.cap = task, scale, cap
    self.datasets = task.datasets

  def init(self, key):
    return self.task.init(key)

  def init_with_state(self, key):
    return self.task.init_with_state(key)

  def loss(self, params, key, data):
    return self.scale * self.task.loss(params, key, data)

  def loss_with_state(self, params, state, key, data):
    loss, state = self.task.loss_with_state(params, state, key, data)
    return self.scale * loss, state

  def loss_with_state_and_aux(self, params, state, key, data):
    loss, state, aux = self.task.loss_with_state_and_aux(params, state, key, data)
    return self.scale * loss, state, aux

  def normalizer(self, loss):
    unscaled = self.task.normalizer(loss / self.scale)
    return unscaled if self.cap is None else jnp.minimum(unscaled, self.cap)


@gin.configurable
class LossScaleFamily(tasks_base.TaskFamily):
  """Tasks of ``task_family`` with the loss scaled by c ~ log-uniform(scale_range) per task; the
  meta-objective (``normalizer``) sees loss / c, at most ``cap`` (None: uncapped)."""

  def __init__(self, task_family: tasks_base.TaskFamily,
               scale_range: Tuple[float, float] = (1e-3, 1e3), cap: Optional[float] = None):
    super().__init__()
    if not 0 < scale_range[0] <= scale_range[1]:
      raise ValueError(f"scale_range must be 0 < low <= high, got {scale_range}.")
    self.task_family = task_family
    self.scale_range = tuple(float(x) for x in scale_range)
    self.cap = None if cap is None else float(cap)
    self.datasets = task_family.datasets
    self._name = f"LossScale_{getattr(task_family, 'name', type(task_family).__name__)}"

  @property
  def name(self):
    return self._name

  def sample(self, key):
    k1, k2 = jax.random.split(key)
    lo, hi = np.log(self.scale_range[0]), np.log(self.scale_range[1])
    return {"sub": self.task_family.sample(k1),
            "scale": jnp.exp(jax.random.uniform(k2, (), minval=lo, maxval=hi))}

  def task_fn(self, cfg):
    return _LossScaled(self.task_family.task_fn(cfg["sub"]), cfg["scale"], self.cap)
