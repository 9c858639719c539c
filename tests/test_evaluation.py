"""mnemosyne-eval: the smoke suite end to end, tuned learning-rate selection against direct runs,
training curves against meta_training.train_curve, run-folder loading, RNNMLPLOpt's jit fix."""

import json
import os
import re

import flax
import jax
import jax.numpy as jnp
from learned_optimization.learned_optimizers import rnn_mlp_lopt
import numpy as np
import pytest

from mnemosyne_lopt import evaluation
from mnemosyne_lopt import lo_baselines
from mnemosyne_lopt import lstm
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
      np.testing.assert_allclose(res["final_train"], np.mean([r["train_curve"][-1] for r in runs]))
    assert entry["results"]["adam"]["test_relative_to_adam"] == 1.0
  # The learned optimizer's curves moved (its theta came from the file, not init(PRNGKey(0))).
  assert np.isfinite(saved["tasks"]["digits_mlp8"]["results"][names[2]]["final_test"])

  # Tuned selection: direct runs of every grid point; the chosen one has the lowest mean validation
  # loss, and the reported runs are that learning rate's.
  spec = evaluation.suite("smoke")[0]
  opt = evaluation.make_optimizer("sgdm_tuned")
  direct = {lr: [evaluation.run_one(opt, lr, spec, s, STEPS) for s in range(2)] for lr in opt.grid}
  mean_valid = {lr: np.mean([r["final_valid"] for r in rs]) for lr, rs in direct.items()}
  best = min(mean_valid, key=mean_valid.get)
  tuned = saved["tasks"]["digits_mlp8"]["results"]["sgdm_tuned"]
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
  for name, part in (("a", a), ("b", b)):
    os.makedirs(tmp_path / name)
    with open(tmp_path / name / "results.json", "w") as f:
      json.dump(part, f)
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
