"""Distributed PES: the task batch of learned_optimization's TruncatedPES split over 8 devices in
two jax.distributed CPU processes (4 virtual devices each) gives the single-device meta-gradient."""

import os
import socket
import subprocess
import sys

import numpy as np
import pytest

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_pes_check.py")


def _free_port():
  with socket.socket() as s:
    s.bind(("localhost", 0))
    return s.getsockname()[1]


def test_two_processes_give_the_single_device_pes_gradient(tmp_path):
  out, port = tmp_path / "pes.npz", _free_port()
  env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                                  + " --xla_force_host_platform_device_count=4"))
  procs = [subprocess.Popen([sys.executable, _SCRIPT, "process", str(out), str(port), str(i), "2"],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
           for i in range(2)]
  logs = []
  try:
    # The reference, while the two processes run: the framework's TruncatedPES on one device
    # (computed here, not in process 0, so that no process waits on another at a barrier).
    sys.path.insert(0, os.path.dirname(_SCRIPT))
    import distributed_pes_check  # pylint: disable=g-import-not-at-top
    ref_grads, ref_losses = distributed_pes_check.estimate(distributed_pes_check.single)
    for p in procs:
      logs.append(p.communicate(timeout=900)[0])
  finally:
    for p in procs:
      if p.poll() is None:
        p.kill()
  assert all(p.returncode == 0 for p in procs), "\n".join(l[-3000:] for l in logs)
  d = np.load(out)
  assert int(d["processes"]) == 2 and int(d["devices"]) == 8
  distributed_pes_check.assert_same_estimate(d["grads"], d["losses"], ref_grads, ref_losses)


def test_num_tasks_must_split_evenly_over_devices():
  import jax  # pylint: disable=g-import-not-at-top
  from learned_optimization.outer_trainers import truncation_schedule  # pylint: disable=g-import-not-at-top
  from learned_optimization.tasks import quadratics  # pylint: disable=g-import-not-at-top
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.outer_trainers import distributed  # pylint: disable=g-import-not-at-top
  mesh = distributed.task_mesh(jax.devices()[:1] * 1)
  est = distributed.ShardedTruncatedPES(
      quadratics.FixedDimQuadraticFamily(4), mnemosyne_lopt.MnemosyneLOpt(chunk_length=4),
      truncation_schedule.ConstantTruncationSchedule(10), num_tasks=3, mesh=mesh)
  assert est.num_tasks == 3                          # any count splits over one device
  with pytest.raises(ValueError, match="stack_antithetic_samples"):
    distributed.ShardedTruncatedPES(
        quadratics.FixedDimQuadraticFamily(4), mnemosyne_lopt.MnemosyneLOpt(chunk_length=4),
        truncation_schedule.ConstantTruncationSchedule(10), num_tasks=2, mesh=mesh,
        stack_antithetic_samples=True)
