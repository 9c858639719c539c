"""mnemosyne-meta-train: gin-configured meta-training (absl flags, as learned_optimization does).

    mnemosyne-meta-train --gin_config=gin_configs/meta_train/quickstart.gin \\
        [--gin_bindings='meta_train.checkpoint_every = 10'] --train_log_dir=runs/quickstart \\
        [--num_outer_steps=N] [--seed=S]

A gin config name without a folder is looked up in the shipped ``mnemosyne_lopt.gin_configs``.
Rerunning the same command resumes from the checkpoint in ``--train_log_dir``.
"""

import os
import sys

from absl import app
from absl import flags
import gin

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("gin_config", [], "gin config file(s)")
flags.DEFINE_multi_string("gin_bindings", [], "extra gin bindings, e.g. 'meta_train.seed = 1'")
flags.DEFINE_string("train_log_dir", None, "folder for checkpoints, summaries, curve and theta")
flags.DEFINE_integer("num_outer_steps", None, "outer steps (overrides the gin config)")
flags.DEFINE_integer("seed", None, "seed (overrides the gin config)")


def _resolve_config(path: str) -> str:
  from mnemosyne_lopt import gin_configs  # pylint: disable=g-import-not-at-top
  if os.path.exists(path):
    return path
  shipped = os.path.join(gin_configs.CONFIG_DIR, path)
  if os.path.exists(shipped):
    return shipped
  raise app.UsageError(f"No gin config at {path!r} (nor in {gin_configs.CONFIG_DIR}); pass a file "
                       "path such as gin_configs/meta_train/quickstart.gin.")


def _main(argv):
  del argv
  import mnemosyne_lopt  # pylint: disable=g-import-not-at-top,unused-import
  import mnemosyne_lopt.tasks  # pylint: disable=g-import-not-at-top,unused-import
  from mnemosyne_lopt import gin_configs  # pylint: disable=g-import-not-at-top
  from mnemosyne_lopt.outer_trainers import meta_training  # pylint: disable=g-import-not-at-top
  if not FLAGS.train_log_dir:
    raise app.UsageError("--train_log_dir is required: the folder for checkpoints and results.")
  if not FLAGS.gin_config:
    raise app.UsageError("--gin_config is required, e.g. --gin_config=meta_train/quickstart.gin.")
  gin.add_config_file_search_path(gin_configs.CONFIG_DIR)
  try:
    gin.parse_config_files_and_bindings([_resolve_config(p) for p in FLAGS.gin_config],
                                        FLAGS.gin_bindings)
  except (ValueError, KeyError) as e:
    raise app.UsageError(f"gin could not apply the configuration: {e}") from e
  kwargs = {}
  if FLAGS.num_outer_steps is not None:
    kwargs["num_outer_steps"] = FLAGS.num_outer_steps
  if FLAGS.seed is not None:
    kwargs["seed"] = FLAGS.seed
  theta, history = meta_training.meta_train(FLAGS.train_log_dir, **kwargs)
  del theta
  last = history[-1] if history else {}
  print(f"[meta-train] done: {len(history)} outer steps logged, last meta-loss "
        f"{last.get('meta_loss', float('nan')):.4f}; results in {FLAGS.train_log_dir}")
  return 0


def main():
  app.run(_main, argv=sys.argv)
