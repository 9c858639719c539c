"""PES meta-gradients with the task batch split over devices and processes (jax.sharding).

learned_optimization's ``TruncatedPES`` keeps ``num_tasks`` inner problems side by side: the
unroll states, the antithetic perturbations theta +- eps_i and the data all carry a leading (or, for
data, second) task axis of length ``num_tasks``, and the estimate is the mean over tasks

    g = 1 / (2 N sigma^2) sum_i (L(theta + eps_i) - L(theta - eps_i)) * accumulated_eps_i.

``ShardedTruncatedPES`` runs exactly the framework's computation (``common.truncated_unroll``,
``common.vector_sample_perturbations``, ``truncated_pes.compute_pes_grad``, with the same random
keys in the same order) but places every task-axis array on a ``jax.sharding.Mesh`` split along
that axis, so XLA's SPMD partitioner gives each device its N / devices tasks and turns the mean
into one all-reduce.  The mesh may span processes (``jax.distributed.initialize``): every process
runs the same program on its own devices' tasks; host-side inputs (perturbations, data batches) are
drawn identically in every process from the same seeds and each process hands over only its slice.
The result equals the single-device ``TruncatedPES`` estimate up to float reassociation of the mean.

Multi-host launch: see README "Distributed meta-training".
"""

import functools
from typing import Any, Mapping, Optional, Tuple

import haiku as hk
import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
from learned_optimization import training
from learned_optimization.outer_trainers import common
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.outer_trainers import truncated_pes

TASK_AXIS = "tasks"


def task_mesh(devices=None) -> Mesh:
  """A 1-D mesh named ``"tasks"`` over ``devices`` (default: every device of every process)."""
  return Mesh(np.asarray(jax.devices() if devices is None else devices), (TASK_AXIS,))


def _global(x, sharding: NamedSharding):
  """A global jax.Array with ``sharding`` from a value every process holds in full (host or device)."""
  if isinstance(x, jax.Array) and x.sharding == sharding:
    return x
  host = np.asarray(x)
  return jax.make_array_from_callback(host.shape, sharding, lambda index: host[index])


def _local(x):
  """A replicated global array as a host numpy array (each process reads its own copy)."""
  if isinstance(x, jax.Array) and not x.is_fully_addressable:
    return np.asarray(x.addressable_data(0))
  return np.asarray(x)


def _synced_call(fn, static_args, args, static_kwargs=None, kwargs=None):
  """fn(*static_args, *args, **static_kwargs, **kwargs) for a jitted fn whose leading positional
  arguments and ``static_kwargs`` are static.

  With several processes it compiles first, waits for every process at a coordination-service
  barrier, then runs: the first collective of a CPU (gloo) program gives the other processes only
  30 s to arrive, less than one process can lag behind another in compiling the unroll.
  """
  static_kwargs, kwargs = static_kwargs or {}, kwargs or {}
  if jax.process_count() == 1:
    return fn(*static_args, *args, **static_kwargs, **kwargs)
  compiled = fn.lower(*static_args, *args, **static_kwargs, **kwargs).compile()
  from jax._src import distributed  # pylint: disable=g-import-not-at-top
  _synced_call.count = getattr(_synced_call, "count", 0) + 1
  distributed.global_state.client.wait_at_barrier(f"mnemosyne_pes_{_synced_call.count}",
                                                  timeout_in_ms=30 * 60 * 1000)
  return compiled(*args, **kwargs)


class ShardedTruncatedPES(truncated_pes.TruncatedPES):
  """``TruncatedPES`` whose ``num_tasks`` tasks are split over the devices of ``mesh``.

  Args:
    *args, **kwargs: those of ``truncated_pes.TruncatedPES`` (``num_tasks`` must be a multiple of
      the number of devices; ``stack_antithetic_samples`` must stay False, the framework default).
    mesh: a mesh with a ``"tasks"`` axis (default ``task_mesh()``: all devices of all processes).
  """

  def __init__(self, *args, mesh: Optional[Mesh] = None, **kwargs):
    super().__init__(*args, **kwargs)
    if self.stack_antithetic_samples:
      raise ValueError("ShardedTruncatedPES follows TruncatedPES's default serial antithetic "
                       "unrolls; pass stack_antithetic_samples=False.")
    self.mesh = mesh if mesh is not None else task_mesh()
    n_dev = self.mesh.shape[TASK_AXIS]
    if self.num_tasks % n_dev:
      raise ValueError(f"num_tasks ({self.num_tasks}) must be a multiple of the {n_dev} devices of "
                       "the 'tasks' mesh axis, so that every device holds the same number of tasks.")
    self._tasks0 = NamedSharding(self.mesh, P(TASK_AXIS))        # leading task axis
    self._tasks1 = NamedSharding(self.mesh, P(None, TASK_AXIS))  # data: [steps_per_jit, tasks, ...]
    self._replicated = NamedSharding(self.mesh, P())

  def _shard(self, tree, sharding):
    return jax.tree_util.tree_map(functools.partial(_global, sharding=sharding), tree)

  def init_worker_state(self, worker_weights: gradient_learner.WorkerWeights, key):
    state = super().init_worker_state(worker_weights, key)
    return self._shard(state, self._tasks0)

  def compute_gradient_estimate(
      self, worker_weights: gradient_learner.WorkerWeights, key, state,
      with_summary: bool = False) -> Tuple[gradient_learner.GradientEstimatorOut, Mapping[str, Any]]:
    """The framework's PES estimate (same keys, same order) with the task axis sharded.

    Returns an output whose ``grad`` and ``mean_loss`` are host (numpy) values, identical in every
    process, and whose ``unroll_state`` stays sharded over the mesh for the next call.
    """
    if with_summary:
      raise ValueError("ShardedTruncatedPES computes no summaries; call it with with_summary=False.")
    rng = hk.PRNGSequence(key)
    theta = worker_weights.theta
    vec_pos, vec_p_theta, vec_n_theta = self._shard(
        common.vector_sample_perturbations(theta, next(rng), self.std, self.num_tasks),
        self._tasks0)
    outer_state = self._shard(worker_weights.outer_state, self._replicated)
    p_state = self._shard(state.pos_state, self._tasks0)
    n_state = self._shard(state.neg_state, self._tasks0)
    accumulator = self._shard(state.accumulator, self._tasks0)
    static_args = [self.task_family, self.learned_opt, self.trunc_sched, self.num_tasks,
                   self.steps_per_jit, self.train_and_meta, self.stack_antithetic_samples, True]
    p_yses, n_yses = [], []
    for _ in range(self.trunc_length // self.steps_per_jit):
      datas = self._shard(
          training.get_batches(self.task_family, (self.steps_per_jit, self.num_tasks),
                               self.train_and_meta, numpy=True), self._tasks1)
      step_key = self._shard(next(rng), self._replicated)
      sample_key = self._shard(next(rng), self._replicated)
      (p_state, p_ys), _ = _synced_call(
          common.truncated_unroll, static_args,
          [vec_p_theta, step_key, p_state, datas, outer_state], {"with_summary": False},
          {"sample_rng_key": sample_key})
      # (sample_key is only read for summaries: passing it here too reuses the compiled unroll.)
      (n_state, n_ys), _ = _synced_call(
          common.truncated_unroll, static_args,
          [vec_n_theta, step_key, n_state, datas, outer_state], {"with_summary": False},
          {"sample_rng_key": sample_key})
      p_yses.append(p_ys)
      n_yses.append(n_ys)
    loss, es_grad, new_accumulator, p_ys, _ = _synced_call(
        truncated_pes.compute_pes_grad, [], [p_yses, n_yses, accumulator, vec_pos],
        {"std": self.std})
    unroll_info = gradient_learner.UnrollInfo(loss=p_ys.loss, iteration=p_ys.iteration,
                                              task_param=p_ys.task_param, is_done=p_ys.is_done)
    out = gradient_learner.GradientEstimatorOut(
        mean_loss=_local(loss), grad=jax.tree_util.tree_map(_local, es_grad),
        unroll_state=truncated_pes.PESWorkerState(p_state, n_state, new_accumulator),
        unroll_info=unroll_info)
    return out, {}
