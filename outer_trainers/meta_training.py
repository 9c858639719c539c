"""Meta-training Mnemosyne with learned_optimization's own estimators, resumable bit for bit.

The pieces are the framework's: TruncatedPES (default), TruncatedES or FullES estimators, one per
task family (families of different shapes are mixed by averaging their meta-gradients), task
augmentation by ``ReparamWeightsFamily`` (parameters re-scaled per task), and a
``SingleMachineGradientLearner`` (``pes.SkippingGradientLearner``: it skips non-finite
meta-gradients) whose outer optimizer is optax Adam on gradients clipped by global norm.  This module adds what a long run needs:

- the "simple meta-training strategy": inner-run lengths drawn log-uniformly, with an upper end
  that grows over meta-training (``CurriculumLogUniformSchedule``);
- checkpoints written atomically (temporary file, then ``os.replace``) every
  ``checkpoint_every`` steps and on SIGINT/SIGTERM, holding everything the next step depends on
  (learner and unroll states, data-iterator positions; the key of step i is fold_in(seed, i)), so a
  run killed at any moment and restarted with the same ``train_log_dir`` ends with bitwise the
  same meta-parameters as an uninterrupted one (on CPU);
- a progress bar, TensorBoard summaries, periodic evaluation on held-out tasks against Adam, and
  the meta-training curve as a PNG.
"""

import hashlib
import json
import math
import os
import pickle
import signal
import time
from typing import Callable, Optional, Sequence

import flax
import gin
import jax
import jax.numpy as jnp
import numpy as np
import optax
from learned_optimization.learned_optimizers import base as lopt_base
from learned_optimization.outer_trainers import full_es
from learned_optimization.outer_trainers import gradient_learner
from learned_optimization.outer_trainers import truncated_es
from learned_optimization.outer_trainers import truncated_pes
from learned_optimization.outer_trainers import truncation_schedule
from learned_optimization.tasks import base as tasks_base
from learned_optimization.tasks import task_augmentation

from mnemosyne_lopt.outer_trainers import pes

CHECKPOINT_FILE = "checkpoint.pkl"
THETA_FILE = "theta.msgpack"
BEST_THETA_FILE = "theta_best.msgpack"   # best mean held-out loss ratio to Adam so far
FORMAT_VERSION = 1
_SPLITS = ("train", "inner_valid", "outer_valid", "test")


class CheckpointError(RuntimeError):
  """A checkpoint that cannot be used: corrupt, or written by another configuration."""


@gin.configurable
class CurriculumLogUniformSchedule(truncation_schedule.TruncationSchedule):
  """Inner-run lengths log-uniform in [min_length, L(i)], L growing with the outer iteration i.

  L(i) = exp(log(max_length_start) + min(i / curriculum_steps, 1) * log(max_length_end /
  max_length_start)): short inner runs first, the full horizon after ``curriculum_steps`` outer
  steps (with max_length_start == max_length_end this is plain log-uniform sampling).
  """

  def __init__(self, min_length: int = 50, max_length_start: int = 200, max_length_end: int = 1000,
               curriculum_steps: int = 500):
    if not 1 <= min_length <= max_length_start <= max_length_end:
      raise ValueError("Need 1 <= min_length <= max_length_start <= max_length_end, got "
                       f"{min_length}, {max_length_start}, {max_length_end}.")
    self.min_length = min_length
    self.max_length_start = max_length_start
    self.max_length_end = max_length_end
    self.curriculum_steps = max(int(curriculum_steps), 1)

  def max_length(self, outer_iteration):
    frac = jnp.clip(jnp.asarray(outer_iteration, jnp.float32) / self.curriculum_steps, 0.0, 1.0)
    return jnp.exp(math.log(self.max_length_start) +
                   frac * math.log(self.max_length_end / self.max_length_start))

  def init(self, key, outer_state):
    it = 0 if outer_state is None else outer_state.outer_iteration
    log_length = jax.random.uniform(key, [], jnp.float32, minval=math.log(self.min_length),
                                    maxval=jnp.log(self.max_length(it)))
    return truncation_schedule.ConstantTruncationState(
        length=jnp.asarray(jnp.exp(log_length), jnp.int32))

  def next_state(self, state, step, key, outer_state):
    is_done = step >= state.length
    state = jax.lax.cond(is_done, lambda ss: self.init(*ss), lambda ss: state, (key, outer_state))
    return state, is_done


@gin.configurable
def make_meta_learner(learned_opt: lopt_base.LearnedOptimizer,
                      task_families: Sequence[tasks_base.TaskFamily],
                      estimator: str = "pes",
                      num_tasks: int = 8,
                      trunc_length: int = 50,
                      steps_per_jit: int = 10,
                      std: float = 0.01,
                      full_unroll_length: int = 200,
                      schedule: Optional[truncation_schedule.TruncationSchedule] = None,
                      reparam_level: Optional[str] = "global",
                      train_and_meta: bool = False,
                      param_scale_range=(0.3, 3.0),
                      outer_learning_rate: float = 1e-3,
                      max_grad_norm: float = 1.0):
  """A SingleMachineGradientLearner over ``task_families`` (see the module docstring).

  Args:
    estimator: "pes" (TruncatedPES), "es" (TruncatedES) or "full_es" (FullES, whole inner runs of
      ``full_unroll_length``).
    num_tasks: inner tasks per family per outer step (each an antithetic pair).
    trunc_length: inner steps per truncation (multiple of steps_per_jit).
    reparam_level: task augmentation of learned_optimization's ReparamWeightsFamily ("global",
      "tensor", "parameter") or None.
    train_and_meta: PES/ES meta-objective on held-out ``outer_valid`` batches instead of the
      training batches (learned_optimization's ``train_and_meta``): rewards generalisation, not
      only fast descent of the training loss.
  """
  if estimator not in ("pes", "es", "full_es"):
    raise ValueError(f"estimator must be 'pes', 'es' or 'full_es', got {estimator!r}.")
  if not task_families:
    raise ValueError("Give at least one task family to meta-train on.")
  schedule = schedule or CurriculumLogUniformSchedule()
  estimators = []
  for family in task_families:
    if reparam_level:
      family = task_augmentation.ReparamWeightsFamily(family, reparam_level, param_scale_range)
    if estimator == "pes":
      est = truncated_pes.TruncatedPES(family, learned_opt, schedule, num_tasks=num_tasks,
                                       trunc_length=trunc_length, std=std,
                                       steps_per_jit=steps_per_jit, train_and_meta=train_and_meta)
    elif estimator == "es":
      est = truncated_es.TruncatedES(family, learned_opt, schedule, num_tasks=num_tasks,
                                     unroll_length=trunc_length, std=std,
                                     steps_per_jit=steps_per_jit, train_and_meta=train_and_meta)
    else:
      est = full_es.FullES(family, learned_opt, num_tasks=num_tasks,
                           unroll_length=full_unroll_length, std=std, steps_per_jit=steps_per_jit,
                           train_and_meta=train_and_meta)
    estimators.append(est)
  return pes.SkippingGradientLearner(
      learned_opt, estimators, pes.outer_optimizer(outer_learning_rate, max_grad_norm))


# --- checkpoints ---------------------------------------------------------------------------------
def _data_iterators(learner):
  """Every data iterator the estimators draw from that can save its position, by a stable name."""
  found = {}
  for i, est in enumerate(learner.gradient_estimators):
    datasets = getattr(est.task_family, "datasets", None)
    for split in _SPLITS:
      it = getattr(datasets, split, None) if datasets is not None else None
      if it is not None and hasattr(it, "get_state"):
        found.setdefault(id(it), (f"family{i}/{split}", it))
  return dict(found.values())


def _fingerprint(learner, theta_template) -> str:
  shapes = jax.tree_util.tree_map(lambda x: (tuple(x.shape), str(np.dtype(x.dtype))),
                                  theta_template)
  lopt = learner.gradient_learner.learned_optimizer
  desc = json.dumps({"lopt": type(lopt).__name__, "lopt_config": repr(getattr(lopt, "config", None)),
                     "theta": str(jax.tree_util.tree_structure(theta_template)),
                     "shapes": str(shapes),
                     "estimators": [type(e).__name__ + ":" + getattr(e.task_family, "name", "")
                                    for e in learner.gradient_estimators]}, sort_keys=True)
  return hashlib.sha256(desc.encode()).hexdigest()[:16]


def _atomic_write(path: str, data: bytes) -> None:
  tmp = f"{path}.tmp.{os.getpid()}"
  with open(tmp, "wb") as f:
    f.write(data)
    f.flush()
    os.fsync(f.fileno())
  os.replace(tmp, path)


def save_checkpoint(train_log_dir, step, state, learner, fingerprint, history, theta) -> None:
  payload = {"format": FORMAT_VERSION, "fingerprint": fingerprint, "step": int(step),
             "state": jax.device_get(state),
             "iterators": {k: it.get_state() for k, it in _data_iterators(learner).items()},
             "history": history}
  _atomic_write(os.path.join(train_log_dir, CHECKPOINT_FILE), pickle.dumps(payload, protocol=4))
  _atomic_write(os.path.join(train_log_dir, THETA_FILE), flax.serialization.to_bytes(theta))


def load_checkpoint(train_log_dir, learner, fingerprint):
  """(step, state, history) from ``train_log_dir``, or None when it holds no checkpoint."""
  path = os.path.join(train_log_dir, CHECKPOINT_FILE)
  if not os.path.exists(path):
    return None
  try:
    with open(path, "rb") as f:
      payload = pickle.load(f)
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(f"Checkpoint {path} is corrupt ({type(e).__name__}: {e}); delete it to "
                          "start over or restore it from a backup.") from e
  if not isinstance(payload, dict) or payload.get("format") != FORMAT_VERSION:
    raise CheckpointError(f"Checkpoint {path} has format {payload.get('format') if isinstance(payload, dict) else '?'}, "
                          f"this version reads format {FORMAT_VERSION}; use a new train_log_dir.")
  if payload["fingerprint"] != fingerprint:
    raise CheckpointError(f"Checkpoint {path} was written by a different configuration (learned "
                          "optimizer, meta-parameter shapes or task families differ); use the "
                          "gin config it was made with, or a new train_log_dir.")
  iterators = _data_iterators(learner)
  if set(iterators) != set(payload["iterators"]):
    raise CheckpointError(f"Checkpoint {path} holds data iterators {sorted(payload['iterators'])} "
                          f"but this configuration has {sorted(iterators)}; use a new train_log_dir.")
  for name, it in iterators.items():
    it.set_state(payload["iterators"][name])
  return payload["step"], payload["state"], payload["history"]


def load_theta(train_log_dir: str, learned_opt: Optional[lopt_base.LearnedOptimizer] = None,
               best: bool = False):
  """The latest meta-parameters written to ``train_log_dir`` by ``meta_train``.

  ``learned_opt`` gives the structure to read them into (default: ``MnemosyneLOpt()`` as
  currently configured by gin).  ``best=True``: those of the best held-out evaluation instead.
  """
  path = os.path.join(train_log_dir, BEST_THETA_FILE if best else THETA_FILE)
  if not os.path.exists(path):
    raise FileNotFoundError(f"No meta-parameters at {path}: run mnemosyne-meta-train with "
                            f"--train_log_dir={train_log_dir} first.")
  if learned_opt is None:
    from mnemosyne_lopt.optimizer import MnemosyneLOpt  # pylint: disable=g-import-not-at-top
    learned_opt = MnemosyneLOpt()
  from mnemosyne_lopt import pretrained  # pylint: disable=g-import-not-at-top
  with open(path, "rb") as f:
    data = f.read()
  try:
    return pretrained.read_theta(learned_opt, data, path)
  except Exception as e:  # pylint: disable=broad-except
    raise CheckpointError(f"Meta-parameters in {path} do not fit {type(learned_opt).__name__} as "
                          f"configured ({e}); load them with the gin config that made them.") from e


# --- evaluation ----------------------------------------------------------------------------------
def transform_fns(tx: optax.GradientTransformation):
  """An optax transformation as (init(params), update(state, grad, loss), get_params(state)) for
  train_curve; the state is (params, optax state)."""

  def update(state, grad, loss):
    del loss
    params, opt_state = state
    updates, opt_state = tx.update(grad, opt_state, params)
    return optax.apply_updates(params, updates), opt_state
  return (lambda params: (params, tx.init(params))), update, (lambda state: state[0])


def adam_fns(learning_rate: float = 1e-3):
  """optax Adam as (init(params), update(state, grad, loss), get_params(state)) for train_curve."""
  return transform_fns(optax.adam(learning_rate))


def lopt_fns(learned_opt, theta, num_steps: int):
  """A learned optimizer at ``theta`` as (init, update, get_params) for train_curve."""
  opt = learned_opt.opt_fn(theta)
  return (lambda params: opt.init(params, num_steps=num_steps),
          lambda state, grad, loss: opt.update(state, grad, loss=loss), opt.get_params)


def train_curve(opt_init, opt_update, get_params, task, params, batches, valid=None):
  """Losses of one inner step per pre-drawn batch in ``batches`` (one ``lax.scan``), and the mean
  loss of the final parameters on the stacked ``valid`` batches (NaN without them)."""
  def body(state, batch):
    loss, grad = jax.value_and_grad(task.loss)(get_params(state), None, batch)
    return opt_update(state, grad, loss), loss
  state, losses = jax.lax.scan(body, opt_init(params), batches)
  if valid is None:
    return losses, jnp.nan
  final = get_params(state)
  return losses, jnp.mean(jax.vmap(lambda b: task.loss(final, None, b))(valid))


def stack_batches(iterator, n):
  """The next ``n`` batches of ``iterator``, stacked along a new leading axis."""
  batches = [next(iterator) for _ in range(n)]
  return jax.tree_util.tree_map(lambda *x: np.stack(x), *batches)


_EVAL_PROGRAMS = {}


def _eval_programs(learned_opt, task, num_steps, adam_learning_rate):
  """Jitted (Mnemosyne, Adam) training curves for one task, built once: theta is an argument, so
  evaluating a new theta reuses the compiled program."""
  key = (learned_opt, task, num_steps, adam_learning_rate)
  if key not in _EVAL_PROGRAMS:
    _EVAL_PROGRAMS[key] = (
        jax.jit(lambda th, p, b, v: train_curve(*lopt_fns(learned_opt, th, num_steps), task, p, b, v)),
        jax.jit(lambda p, b, v: train_curve(*adam_fns(adam_learning_rate), task, p, b, v)))
  return _EVAL_PROGRAMS[key]


@gin.configurable
def evaluate_against_adam(learned_opt, theta, tasks: Sequence[tasks_base.Task], num_steps: int = 500,
                          adam_learning_rate: float = 1e-3, seed: int = 0):
  """Held-out tasks trained ``num_steps`` by Mnemosyne and by Adam: validation loss afterwards.

  Returns {task name: {"mnemosyne": loss, "adam": loss, "mnemosyne_train": ..., "adam_train": ...}}
  with the loss on 5 ``outer_valid`` batches after training (the ratio that ``meta_train`` tracks)
  and the mean training loss over the last 10% of steps.
  """
  results = {}
  for i, task in enumerate(tasks):
    params = task.init(jax.random.PRNGKey(seed + i))
    # Every evaluation sees the same batches (iterators rewound afterwards): evaluations of
    # successive thetas are compared on equal terms, and a resumed run evaluates like an
    # uninterrupted one.
    positions = [(it, it.get_state()) for it in (task.datasets.train, task.datasets.outer_valid)
                 if hasattr(it, "get_state")]
    batches = stack_batches(task.datasets.train, num_steps)
    valid = stack_batches(task.datasets.outer_valid, 5)
    for it, position in positions:
      it.set_state(position)
    lopt_run, adam_run = _eval_programs(learned_opt, task, num_steps, adam_learning_rate)
    lm, vm = lopt_run(theta, params, batches, valid)
    la, va = adam_run(params, batches, valid)
    tail = max(num_steps // 10, 1)
    results[getattr(task, "name", f"task{i}") + f"_{i}"] = {
        "mnemosyne": float(vm), "adam": float(va),
        "mnemosyne_train": float(np.mean(np.asarray(lm)[-tail:])),
        "adam_train": float(np.mean(np.asarray(la)[-tail:]))}
  return results


# --- the run -------------------------------------------------------------------------------------
class _Interrupt:
  """Turns SIGINT/SIGTERM into a flag the loop checks after each outer step."""

  def __init__(self):
    self.signal = None
    self._old = {}

  def __enter__(self):
    for sig in (signal.SIGINT, signal.SIGTERM):
      self._old[sig] = signal.signal(sig, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.signal = signum

  def __exit__(self, *exc):
    for sig, handler in self._old.items():
      signal.signal(sig, handler)


def _save_curve(train_log_dir, history):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  if not history:
    return
  steps = np.array([h["step"] for h in history])
  loss = np.array([h["meta_loss"] for h in history])
  fig, ax = plt.subplots(figsize=(6, 4))
  ax.plot(steps, loss, alpha=0.3, label="meta-loss (mean truncated inner loss)")
  w = max(len(loss) // 20, 1)
  if len(loss) >= w:
    ax.plot(steps[w - 1:], np.convolve(loss, np.ones(w) / w, mode="valid"), label=f"moving mean ({w})")
  evals = [h for h in history if "eval_ratio" in h]
  if evals:
    ax2 = ax.twinx()
    ax2.plot([h["step"] for h in evals], [h["eval_ratio"] for h in evals], "k.-",
             label="held-out: Mnemosyne / Adam final loss")
    ax2.axhline(1.0, color="k", lw=0.5, ls=":")
    ax2.set_ylabel("held-out loss ratio (< 1: Mnemosyne better)")
    ax2.legend(loc="upper right", fontsize=8)
  ax.set_xlabel("outer step")
  ax.set_ylabel("meta-loss")
  ax.legend(loc="upper left", fontsize=8)
  ax.set_title("Mnemosyne meta-training")
  fig.tight_layout()
  fig.savefig(os.path.join(train_log_dir, "meta_training_curve.png"), dpi=110)
  plt.close(fig)


def _read_init_theta(source: str, learned_opt):
  """Meta-parameters from a theta file or ``pretrained:NAME``, checked against ``learned_opt``."""
  from mnemosyne_lopt import pretrained  # pylint: disable=g-import-not-at-top
  if source.startswith("pretrained:"):
    lopt, theta = pretrained.load_pretrained(source[len("pretrained:"):])
    if getattr(lopt, "config", None) != getattr(learned_opt, "config", None):
      raise ValueError(f"init_theta {source!r} was made for MnemosyneLOpt({lopt.config}), not the "
                       f"configured {getattr(learned_opt, 'config', learned_opt)}; configure the same "
                       "optimizer arguments or start from another theta.")
    return theta
  if not os.path.exists(source):
    raise FileNotFoundError(f"init_theta file {source} does not exist; give a theta.msgpack path "
                            "or 'pretrained:NAME'.")
  with open(source, "rb") as f:
    data = f.read()
  try:
    return pretrained.read_theta(learned_opt, data, source)
  except Exception as e:  # pylint: disable=broad-except
    raise ValueError(f"init_theta file {source} does not hold meta-parameters of the configured "
                     f"learned optimizer ({e}).") from e


def _with_theta(state, theta):
  """A fresh learner state whose meta-parameters are ``theta`` (outer optimizer state untouched)."""
  gls = state.gradient_learner_state
  tos = gls.theta_opt_state
  # pes.outer_optimizer is an opt_base.OptaxOptimizer, whose state is the namedtuple OptaxState.
  tos = tos._replace(params=jax.tree_util.tree_map(jnp.asarray, theta))
  return state.replace(gradient_learner_state=gls.replace(theta_opt_state=tos))


@gin.configurable
def meta_train(train_log_dir: str,
               num_outer_steps: int = 100,
               seed: int = 0,
               learned_opt: lopt_base.LearnedOptimizer = gin.REQUIRED,
               task_families: Sequence[tasks_base.TaskFamily] = gin.REQUIRED,
               eval_tasks: Sequence[tasks_base.Task] = (),
               eval_every: int = 0,
               eval_steps: int = 300,
               checkpoint_every: int = 20,
               progress: bool = True,
               tensorboard: bool = True,
               step_callback: Optional[Callable[[int], None]] = None,
               init_theta: Optional[str] = None,
               snapshot_every: int = 0,
               max_seconds: Optional[float] = None):
  """Meta-trains ``learned_opt`` on ``task_families``; resumes from ``train_log_dir`` if possible.

  Returns (theta, history).  ``step_callback(step)`` runs after each completed outer step (tests
  use it to interrupt a run).  ``init_theta`` starts a new run (not a resumed one) from given
  meta-parameters instead of ``learned_opt.init``: a theta file (``theta.msgpack`` of a run or
  of a pretrained folder) or ``"pretrained:NAME"``; the outer optimizer's state starts fresh.
  ``snapshot_every`` > 0 also keeps the meta-parameters of every such step as
  ``snapshots/theta_<step>.msgpack`` (candidates for ``scripts/select_checkpoint.py``).
  ``max_seconds`` is a wall-clock budget: the run stops after the first outer step that ends
  past it (evaluated, if ``eval_tasks`` are given, and checkpointed like a last step), whatever
  ``num_outer_steps`` says; time spent before a resume counts (history's "time" is cumulative),
  so equal budgets compare optimizers whose outer steps cost differently.
  """
  os.makedirs(train_log_dir, exist_ok=True)
  learner = make_meta_learner(learned_opt, task_families)
  base_key = jax.random.PRNGKey(seed)
  theta_template = jax.eval_shape(learned_opt.init, jax.random.PRNGKey(0))   # shapes only
  fingerprint = _fingerprint(learner, theta_template)
  restored = load_checkpoint(train_log_dir, learner, fingerprint)
  if restored is None:
    step, state, history = 0, learner.init(jax.random.fold_in(base_key, 2**31 - 1)), []
    if init_theta:
      state = _with_theta(state, _read_init_theta(init_theta, learned_opt))
      print(f"[meta-train] starting from the meta-parameters of {init_theta}")
  else:
    step, state, history = restored
    print(f"[meta-train] resuming {train_log_dir} at outer step {step}")
  with open(os.path.join(train_log_dir, "config.gin"), "w") as f:
    f.write(gin.operative_config_str() or gin.config_str())

  writer = None
  if tensorboard:
    from flax.metrics import tensorboard as flax_tb  # pylint: disable=g-import-not-at-top
    writer = flax_tb.SummaryWriter(os.path.join(train_log_dir, "tb"))
  bar = None
  if progress:
    import tqdm  # pylint: disable=g-import-not-at-top
    bar = tqdm.tqdm(total=num_outer_steps, initial=step, desc="meta-train", unit="outer step")
  last_saved = step
  skipped = history[-1].get("skipped_meta_updates", 0) if history else 0
  t0 = time.time() - (history[-1]["time"] if history else 0.0)   # cumulative over resumes
  with _Interrupt() as interrupt:
    while step < num_outer_steps:
      key = jax.random.fold_in(base_key, step)
      state, meta_loss, metrics = learner.update(state, key, with_metrics=True)
      meta_loss = float(meta_loss)
      if metrics.get("skipped_meta_update"):
        skipped += 1
        print(f"[meta-train] outer step {step}: non-finite meta-gradient (meta-loss {meta_loss}); "
              f"update skipped, meta-parameters unchanged ({skipped} skipped so far)")
      step += 1
      entry = {"step": step, "meta_loss": meta_loss, "time": time.time() - t0,
               "skipped_meta_updates": skipped}
      out_of_time = max_seconds is not None and entry["time"] >= max_seconds
      last = step == num_outer_steps or out_of_time
      grad_norm = metrics.get("none||theta_grad_norm") if isinstance(metrics, dict) else None
      if grad_norm is not None:
        entry["theta_grad_norm"] = float(grad_norm)
      theta = learner.get_lopt_params(state)
      if eval_tasks and eval_every and (step % eval_every == 0 or last):
        res = evaluate_against_adam(learned_opt, theta, eval_tasks, num_steps=eval_steps, seed=seed)
        entry["eval"] = res
        entry["eval_ratio"] = float(np.mean([r["mnemosyne"] / r["adam"] for r in res.values()]))
        previous = [h["eval_ratio"] for h in history if "eval_ratio" in h]
        if np.isfinite(entry["eval_ratio"]) and (not previous or entry["eval_ratio"] < min(previous)):
          entry["best"] = True
          _atomic_write(os.path.join(train_log_dir, BEST_THETA_FILE),
                        flax.serialization.to_bytes(theta))
      history.append(entry)
      if writer is not None:
        writer.scalar("meta_loss", meta_loss, step)
        writer.scalar("skipped_meta_updates", skipped, step)
        if "theta_grad_norm" in entry:
          writer.scalar("theta_grad_norm", entry["theta_grad_norm"], step)
        if "eval_ratio" in entry:
          writer.scalar("eval/mnemosyne_over_adam", entry["eval_ratio"], step)
          for name, r in entry["eval"].items():
            writer.scalar(f"eval/{name}/mnemosyne", r["mnemosyne"], step)
            writer.scalar(f"eval/{name}/adam", r["adam"], step)
      if bar is not None:
        bar.update(1)
        bar.set_postfix(meta_loss=f"{meta_loss:.4f}", **(
            {"heldout_vs_adam": f"{entry['eval_ratio']:.3f}"} if "eval_ratio" in entry else {}))
      stop = interrupt.signal is not None
      if snapshot_every and step % snapshot_every == 0:
        os.makedirs(os.path.join(train_log_dir, "snapshots"), exist_ok=True)
        _atomic_write(os.path.join(train_log_dir, "snapshots", f"theta_{step}.msgpack"),
                      flax.serialization.to_bytes(theta))
      if step % checkpoint_every == 0 or last or stop:
        save_checkpoint(train_log_dir, step, state, learner, fingerprint, history, theta)
        _save_curve(train_log_dir, history)
        last_saved = step
      if step_callback is not None:
        step_callback(step)
      if stop:
        print(f"[meta-train] signal {interrupt.signal}: checkpoint saved at outer step {step}; "
              "rerun the same command to resume.")
        break
      if out_of_time:
        print(f"[meta-train] wall-clock budget of {max_seconds:g} s spent after outer step {step} "
              f"({entry['time']:.0f} s); stopped with a checkpoint.")
        break
  if bar is not None:
    bar.close()
  if writer is not None:
    writer.flush()
  if last_saved != step:
    save_checkpoint(train_log_dir, step, state, learner, fingerprint, history,
                    learner.get_lopt_params(state))
  with open(os.path.join(train_log_dir, "history.json"), "w") as f:
    json.dump(history, f)
  return learner.get_lopt_params(state), history
