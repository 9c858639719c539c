"""PES meta-gradient of Mnemosyne with the task batch split over devices / processes.

Run by tests/test_distributed.py in subprocesses (the device count is fixed when JAX starts):

    XLA_FLAGS=--xla_force_host_platform_device_count=8 python tests/distributed_pes_check.py devices OUT.npz
        -> the single-device TruncatedPES estimate and ShardedTruncatedPES over 8 devices,
           compared (exit status 1 if they differ)
    XLA_FLAGS=--xla_force_host_platform_device_count=2 python tests/distributed_pes_check.py \\
        process OUT.npz PORT PROCESS_ID NUM_PROCESSES
        -> one process of a jax.distributed job: ShardedTruncatedPES over every process's devices

Two truncations of 10 inner steps of 8 quadratic tasks (the second uses PES's accumulated noise).
"""

import os
import sys

import jax
import numpy as np


def flat(tree):
  return np.concatenate([np.ravel(np.asarray(x)) for x in jax.tree_util.tree_leaves(tree)])


def estimate(make_estimator, steps=2):
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt import outer_trainers  # pylint: disable=g-import-not-at-top
  from learned_optimization.tasks import quadratics  # pylint: disable=g-import-not-at-top
  lopt = mnemosyne_lopt.MnemosyneLOpt(chunk_length=4)
  estimator = make_estimator(quadratics.FixedDimQuadraticFamily(10), lopt)
  worker = outer_trainers.make_gradient_learner(lopt).get_state_for_worker(
      outer_trainers.make_gradient_learner(lopt).init(jax.random.PRNGKey(0)))
  unroll = estimator.init_worker_state(worker, jax.random.PRNGKey(0))
  grads, losses = [], []
  for i in range(steps):
    out, _ = estimator.compute_gradient_estimate(worker, jax.random.PRNGKey(i + 1), unroll,
                                                 with_summary=False)
    unroll = out.unroll_state
    grads.append(flat(out.grad))
    losses.append(float(np.asarray(out.mean_loss)))
  return np.stack(grads), np.asarray(losses)


def assert_same_estimate(grads, losses, ref_grads, ref_losses):
  """The split estimate equals the single-device one: [truncations, meta-parameters] gradients
  within 1e-5 of the largest reference entry, mean losses within 1e-5 relative."""
  assert grads.shape == ref_grads.shape and ref_grads.shape[0] == 2, (grads.shape, ref_grads.shape)
  assert np.all(np.isfinite(grads)) and np.max(np.abs(ref_grads)) > 1e-3
  np.testing.assert_allclose(grads, ref_grads, rtol=0, atol=1e-5 * np.max(np.abs(ref_grads)))
  np.testing.assert_allclose(losses, ref_losses, rtol=1e-5)


def pes_kwargs():
  from learned_optimization.outer_trainers import truncation_schedule  # pylint: disable=g-import-not-at-top
  return dict(trunc_sched=truncation_schedule.ConstantTruncationSchedule(15), num_tasks=8,
              trunc_length=10, steps_per_jit=5, std=0.01)


def single(family, lopt):
  from learned_optimization.outer_trainers import truncated_pes  # pylint: disable=g-import-not-at-top
  return truncated_pes.TruncatedPES(family, lopt, **pes_kwargs())


def sharded(family, lopt):
  from mnemosyne_lopt.outer_trainers import distributed  # pylint: disable=g-import-not-at-top
  return distributed.ShardedTruncatedPES(family, lopt, **pes_kwargs())


def main(argv):
  mode, out_path = argv[0], argv[1]
  if mode == "process":
    port, pid, nproc = int(argv[2]), int(argv[3]), int(argv[4])
    jax.distributed.initialize(coordinator_address=f"localhost:{port}", num_processes=nproc,
                               process_id=pid)
    grads, losses = estimate(sharded)
    if pid == 0:
      np.savez(out_path, grads=grads, losses=losses, devices=jax.device_count(),
               processes=jax.process_count())
    jax.distributed.shutdown()
    return
  ref_grads, ref_losses = estimate(single)
  grads, losses = estimate(sharded)
  np.savez(out_path, grads=grads, losses=losses, ref_grads=ref_grads, ref_losses=ref_losses,
           devices=jax.device_count())
  assert_same_estimate(grads, losses, ref_grads, ref_losses)
  print(f"{jax.device_count()} devices: ShardedTruncatedPES equals TruncatedPES, max |diff| "
        f"{np.max(np.abs(grads - ref_grads)):.2e}")


if __name__ == "__main__":
  os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
  main(sys.argv[1:])
