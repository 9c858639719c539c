"""Console scripts print no TensorFlow / oneDNN / TPU-backend / Oryx banners; real warnings pass."""

import os
import subprocess
import sys

BANNERS = ("oneDNN", "Oryx", "backend 'tpu'", "absl::InitializeLog", "TF_ENABLE_ONEDNN_OPTS")


def _env():
  env = dict(os.environ)
  for k in ("TF_CPP_MIN_LOG_LEVEL", "TF_ENABLE_ONEDNN_OPTS"):
    env.pop(k, None)
  return env


def _python(code):
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=_env(),
                        timeout=300)


def test_console_script_stderr_has_no_banners():
  script = os.path.join(os.path.dirname(sys.executable), "mnemosyne-tasks")
  out = subprocess.run([script, "list"], capture_output=True, text=True, env=_env(), timeout=300)
  assert out.returncode == 0, out.stderr
  assert "vit_tiny" in out.stdout
  for banner in BANNERS:
    assert banner not in out.stderr, (banner, out.stderr)


def test_real_warnings_still_reach_the_user():
  code = ("import logging, mnemosyne_lopt, learned_optimization.summary, tensorflow; "
          "learned_optimization.summary.TensorboardWriter; "   # runs the deferred module (Oryx)
          "logging.getLogger('absl').warning('a real warning'); "
          "logging.getLogger('jax._src.xla_bridge').warning('a jax warning')")
  out = _python(code)
  assert out.returncode == 0, out.stderr
  assert "a real warning" in out.stderr and "a jax warning" in out.stderr
  for banner in BANNERS:
    assert banner not in out.stderr, (banner, out.stderr)


def test_gin_include_probe_is_not_printed():
  # gin logs an ERROR "Path not found" for an include it then finds on its search path.
  code = ("import gin, mnemosyne_lopt; from mnemosyne_lopt import gin_configs; "
          "gin.add_config_file_search_path(gin_configs.CONFIG_DIR); "
          "gin.parse_config_files_and_bindings(['meta_train/pretrained_default_lstm.gin'], []); "
          "print(gin.query_parameter('meta_train.num_outer_steps'))")
  out = _python(code)
  assert out.returncode == 0, out.stderr
  assert out.stdout.strip() and "Path not found" not in out.stderr, out.stderr


def test_optax_use_does_not_import_tensorflow_until_a_summary_is_used():
  """learned_optimization.summary (which imports TensorFlow) is deferred by mnemosyne_lopt.compat:
  the optax path never loads TensorFlow; the first use of the summary module loads the real one."""
  code = ("import sys, jax, jax.numpy as jnp, mnemosyne_lopt; "
          "tx = mnemosyne_lopt.mnemosyne(); p = {'w': jnp.ones((4, 3))}; "
          "u, s = jax.jit(tx.update)(p, tx.init(p), p); print('tensorflow' in sys.modules); "
          "from learned_optimization import summary; "
          "print(summary.TensorboardWriter.__name__, 'tensorflow' in sys.modules)")
  out = _python(code)
  assert out.returncode == 0, out.stderr
  assert out.stdout.split() == ["False", "SummaryWriter", "True"], out.stdout
  for banner in BANNERS:
    assert banner not in out.stderr, (banner, out.stderr)
