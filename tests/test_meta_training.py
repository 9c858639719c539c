"""Meta-training driver: curriculum schedule, bitwise resume after a crash or SIGKILL, clear errors."""

import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.tasks import quadratics

from mnemosyne_lopt import gin_configs
from mnemosyne_lopt.optimizer import MnemosyneLOpt
from mnemosyne_lopt.outer_trainers import meta_training as mt
from mnemosyne_lopt.tasks import digits


def test_curriculum_schedule_is_log_uniform_with_growing_upper_end():
  sched = mt.CurriculumLogUniformSchedule(min_length=10, max_length_start=20, max_length_end=1000,
                                          curriculum_steps=100)
  keys = jax.random.split(jax.random.PRNGKey(0), 2000)
  for it, upper in ((0, 20), (50, np.sqrt(20 * 1000)), (100, 1000), (500, 1000)):
    outer = gradient_learner.OuterState(outer_iteration=it)
    lengths = np.asarray(jax.vmap(lambda k, o=outer: sched.init(k, o).length)(keys))
    assert lengths.min() >= 10 and lengths.max() <= upper + 1
    # log-uniform: the median is the geometric mean of the ends
    np.testing.assert_allclose(np.median(lengths), np.sqrt(10 * upper), rtol=0.1)


def _run(log_dir, steps, callback=None, model_dim=16, **kwargs):
  learner_kwargs = dict(num_tasks=2, trunc_length=10, steps_per_jit=10,
                        schedule=mt.CurriculumLogUniformSchedule(10, 20, 30, 5))
  original = mt.make_meta_learner
  try:
    mt.make_meta_learner = lambda lopt, fams: original(lopt, fams, **learner_kwargs)
    return mt.meta_train(log_dir, num_outer_steps=steps, seed=3,
                         learned_opt=MnemosyneLOpt(chunk_length=16, model_dim=model_dim),
                         task_families=[digits.DigitsMLPFamily((8,), batch_size=16)],
                         checkpoint_every=2, progress=False, tensorboard=False,
                         step_callback=callback, **kwargs)
  finally:
    mt.make_meta_learner = original


class _Crash(Exception):
  pass


def test_resume_after_crash_is_bitwise_identical(tmp_path):
  theta_a, hist_a = _run(str(tmp_path / "a"), 5)

  def crash(step):
    if step == 3:            # after step 3, whose checkpoint (every 2) was not written
      raise _Crash()
  with pytest.raises(_Crash):
    _run(str(tmp_path / "b"), 5, crash)
  theta_b, hist_b = _run(str(tmp_path / "b"), 5)
  for a, b in zip(jax.tree_util.tree_leaves(theta_a), jax.tree_util.tree_leaves(theta_b)):
    np.testing.assert_array_equal(a, b)
  assert [h["meta_loss"] for h in hist_a] == [h["meta_loss"] for h in hist_b]
  assert all(np.isfinite(h["meta_loss"]) for h in hist_a)
  # load_theta reads what the run wrote
  loaded = mt.load_theta(str(tmp_path / "b"), MnemosyneLOpt(chunk_length=16))
  for a, b in zip(jax.tree_util.tree_leaves(theta_a), jax.tree_util.tree_leaves(loaded)):
    np.testing.assert_array_equal(a, b)
  assert os.path.exists(tmp_path / "b" / "meta_training_curve.png")

  # a checkpoint from another configuration is refused with a clear error naming the file
  with pytest.raises(mt.CheckpointError, match=r"checkpoint\.pkl.*different configuration"):
    _run(str(tmp_path / "b"), 6, model_dim=8)


def test_wall_clock_budget_stops_with_a_checkpoint_and_resume_counts_the_time(tmp_path, capsys):
  # A budget of 0 s is spent by the first outer step: the run stops there (not at step 5), saved.
  _, hist = _run(str(tmp_path / "b"), 5, max_seconds=0.0)
  assert [h["step"] for h in hist] == [1]
  assert "wall-clock budget of 0 s spent after outer step 1" in capsys.readouterr().out
  # Resumed without a budget: steps 2 and 3 continue the same run (the meta-losses of an
  # uninterrupted run), and the time is counted from the first session on.
  _, resumed = _run(str(tmp_path / "b"), 3)
  _, straight = _run(str(tmp_path / "a"), 3)
  assert [h["meta_loss"] for h in resumed] == [h["meta_loss"] for h in straight]
  assert [h["step"] for h in resumed] == [1, 2, 3]
  assert resumed[1]["time"] >= resumed[0]["time"] == hist[0]["time"]


def test_corrupt_checkpoint_is_a_clear_error(tmp_path):
  (tmp_path / mt.CHECKPOINT_FILE).write_bytes(b"not a checkpoint")
  learner = mt.make_meta_learner(MnemosyneLOpt(), [quadratics.FixedDimQuadraticFamily(4)])
  with pytest.raises(mt.CheckpointError, match=r"checkpoint\.pkl is corrupt"):
    mt.load_checkpoint(str(tmp_path), learner, "x")
  with open(tmp_path / mt.CHECKPOINT_FILE, "wb") as f:
    pickle.dump({"format": 99}, f)
  with pytest.raises(mt.CheckpointError, match="format 99"):
    mt.load_checkpoint(str(tmp_path), learner, "x")
  with pytest.raises(FileNotFoundError, match="mnemosyne-meta-train"):
    mt.load_theta(str(tmp_path / "nowhere"))


_SCRIPT = textwrap.dedent("""
    import sys
    import mnemosyne_lopt
    from learned_optimization.tasks import quadratics
    from mnemosyne_lopt.outer_trainers import meta_training as mt
    lopt = mnemosyne_lopt.MnemosyneLOpt(chunk_length=4)
    original = mt.make_meta_learner
    mt.make_meta_learner = lambda l, f: original(
        l, f, num_tasks=2, trunc_length=10, schedule=mt.CurriculumLogUniformSchedule(10, 20, 40, 4))
    mt.meta_train(sys.argv[1], num_outer_steps=int(sys.argv[2]), seed=1, learned_opt=lopt,
                  task_families=[quadratics.FixedDimQuadraticFamily(8)], checkpoint_every=1,
                  progress=False, tensorboard=False)
""")


def test_sigkill_at_a_random_moment_then_resume_is_bitwise_identical(tmp_path):
  script = tmp_path / "run.py"
  script.write_text(_SCRIPT)
  steps = 8
  subprocess.run([sys.executable, str(script), str(tmp_path / "full"), str(steps)], check=True,
                 capture_output=True)
  # Kill once the run is inside its loop (first checkpoint written), at a moment between steps.
  proc = subprocess.Popen([sys.executable, str(script), str(tmp_path / "killed"), str(steps)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  ckpt = tmp_path / "killed" / mt.CHECKPOINT_FILE
  deadline = time.time() + 300
  while not ckpt.exists() and time.time() < deadline and proc.poll() is None:
    time.sleep(0.05)
  time.sleep(float(np.random.RandomState(int(time.time())).uniform(0.0, 1.0)))
  proc.send_signal(signal.SIGKILL)
  proc.wait()
  subprocess.run([sys.executable, str(script), str(tmp_path / "killed"), str(steps)], check=True,
                 capture_output=True)
  lopt = MnemosyneLOpt(chunk_length=4)
  full = mt.load_theta(str(tmp_path / "full"), lopt)
  resumed = mt.load_theta(str(tmp_path / "killed"), lopt)
  for a, b in zip(jax.tree_util.tree_leaves(full), jax.tree_util.tree_leaves(resumed)):
    np.testing.assert_array_equal(a, b)


class _NaNLossFamily(quadratics.FixedDimQuadraticFamily):
  """LO's quadratic family whose tasks report a NaN loss: every meta-gradient estimate is NaN."""

  def task_fn(self, cfg):
    task = super().task_fn(cfg)
    loss = task.loss
    task.loss = lambda params, key, data: loss(params, key, data) * np.nan
    return task


def test_meta_training_skips_and_logs_non_finite_meta_gradients(tmp_path, capsys):
  lopt = MnemosyneLOpt(chunk_length=4)
  original = mt.make_meta_learner
  try:
    mt.make_meta_learner = lambda l, f: original(
        l, f, num_tasks=2, trunc_length=10, schedule=mt.CurriculumLogUniformSchedule(10, 20, 40, 4))
    theta, history = mt.meta_train(str(tmp_path), num_outer_steps=3, seed=0, learned_opt=lopt,
                                   task_families=[_NaNLossFamily(4)], progress=False,
                                   tensorboard=False)
  finally:
    mt.make_meta_learner = original
  assert [h["skipped_meta_updates"] for h in history] == [1, 2, 3]
  assert "non-finite meta-gradient" in capsys.readouterr().out
  # Meta-parameters are exactly where learner.init put them: finite and untouched.
  learner = original(lopt, [_NaNLossFamily(4)], num_tasks=2, trunc_length=10)
  init_theta = learner.get_lopt_params(learner.init(jax.random.fold_in(jax.random.PRNGKey(0),
                                                                        2**31 - 1)))
  for a, b in zip(jax.tree_util.tree_leaves(theta), jax.tree_util.tree_leaves(init_theta)):
    assert np.all(np.isfinite(a))
    np.testing.assert_array_equal(a, b)


def test_checkpoint_of_another_optimizer_config_is_a_clear_error(tmp_path):
  _run(str(tmp_path), 2)
  original = mt.make_meta_learner
  try:
    mt.make_meta_learner = lambda lopt, fams: original(lopt, fams, num_tasks=2, trunc_length=10)
    with pytest.raises(mt.CheckpointError, match="different configuration"):
      # Same meta-parameter shapes, another discount: the fingerprint must still tell them apart.
      mt.meta_train(str(tmp_path), num_outer_steps=3, seed=3,
                    learned_opt=MnemosyneLOpt(chunk_length=16, tau=0.5),
                    task_families=[digits.DigitsMLPFamily((8,), batch_size=16)],
                    progress=False, tensorboard=False)
  finally:
    mt.make_meta_learner = original


def test_held_out_evaluation_is_deterministic_and_repeatable():
  # Two evaluations of the same theta (in one run, or after a resume) see the same batches.
  lopt = MnemosyneLOpt(chunk_length=16)
  theta = lopt.init(jax.random.PRNGKey(0))
  tasks = [digits.DigitsMLP((8,), batch_size=16)]
  first = mt.evaluate_against_adam(lopt, theta, tasks, num_steps=20, seed=1)
  second = mt.evaluate_against_adam(lopt, theta, tasks, num_steps=20, seed=1)
  assert first == second
  assert all(np.isfinite(v) for r in first.values() for v in r.values())


def test_unknown_gin_binding_is_a_usage_error(tmp_path):
  import gin
  from absl import app
  from mnemosyne_lopt.outer_trainers import cli
  cli.FLAGS.unparse_flags()
  cli.FLAGS(["mnemosyne-meta-train", "--gin_config=meta_train/quickstart.gin",
             "--gin_bindings=MnemosyneLOpt.no_such_arg = 1", f"--train_log_dir={tmp_path}"])
  try:
    with pytest.raises(app.UsageError, match="no_such_arg"):
      cli._main([])
    cli.FLAGS.gin_bindings = []
    cli.FLAGS.gin_config = ["no/such/config.gin"]
    with pytest.raises(app.UsageError, match="No gin config"):
      cli._main([])
  finally:
    cli.FLAGS.unparse_flags()
    # learned_optimization parses the flags when it is imported (profile.py) and reads them later:
    # leave them parsed, with their defaults, for the tests that follow.
    cli.FLAGS(["pytest"], known_only=True)
    gin.clear_config()


def test_init_theta_starts_a_new_run_from_given_meta_parameters(tmp_path):
  import flax  # pylint: disable=g-import-not-at-top
  lopt = MnemosyneLOpt(chunk_length=4)
  start = lopt.init(jax.random.PRNGKey(7))
  path = tmp_path / "start.msgpack"
  path.write_bytes(flax.serialization.to_bytes(start))
  original = mt.make_meta_learner

  def run(log_dir, init_theta, learned_opt=lopt):
    return mt.meta_train(str(log_dir), num_outer_steps=2, seed=0, learned_opt=learned_opt,
                         task_families=[_NaNLossFamily(4)], progress=False, tensorboard=False,
                         init_theta=init_theta, snapshot_every=1)
  try:
    mt.make_meta_learner = lambda l, f: original(
        l, f, num_tasks=2, trunc_length=10, schedule=mt.CurriculumLogUniformSchedule(10, 20, 40, 4))
    # Every meta-gradient is NaN, so the skipped updates leave theta where init_theta put it.
    theta, _ = run(tmp_path / "run", str(path))
    for a, b in zip(jax.tree_util.tree_leaves(theta), jax.tree_util.tree_leaves(start)):
      np.testing.assert_array_equal(a, b)
    assert sorted(os.listdir(tmp_path / "run" / "snapshots")) == ["theta_1.msgpack", "theta_2.msgpack"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
      run(tmp_path / "missing", str(tmp_path / "nope.msgpack"))
    with pytest.raises(ValueError, match="meta-parameter shapes|does not hold"):
      run(tmp_path / "other", str(path), MnemosyneLOpt(chunk_length=4, model_dim=8))
  finally:
    mt.make_meta_learner = original


@pytest.mark.parametrize("config", sorted(os.listdir(os.path.join(gin_configs.CONFIG_DIR,
                                                                 "meta_train"))))
def test_every_meta_training_config_parses_and_builds_its_task_families(config):
  import gin  # pylint: disable=g-import-not-at-top
  from learned_optimization.tasks import base as tasks_base  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  try:
    gin.add_config_file_search_path(gin_configs.CONFIG_DIR)
    gin.parse_config_files_and_bindings([f"meta_train/{config}"], [])
    families = gin.query_parameter("meta_train.task_families")
    built = []
    for ref in (families if isinstance(families, (list, tuple)) else [families]):
      out = ref.scoped_configurable_fn()
      built.extend(out if isinstance(out, list) else [out])
    assert built and all(isinstance(f, tasks_base.TaskFamily) for f in built), built
    assert gin.query_parameter("meta_train.learned_opt") is not None
  finally:
    gin.clear_config()
