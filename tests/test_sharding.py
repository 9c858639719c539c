"""Mnemosyne with parameters sharded over 8 virtual CPU devices (run in a subprocess: the device
count is fixed when JAX starts, and the rest of the suite runs on one device)."""

import json
import os
import subprocess
import sys

import jax
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np
import pytest

import mnemosyne_lopt
from mnemosyne_lopt import sharding as msharding

_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "sharded_inner_check.py")


@pytest.fixture(scope="module")
def report():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8")
  layouts = "fsdp,fsdp_largest_axis,tensor_parallel"
  out = subprocess.run([sys.executable, _SCRIPT, "1024", layouts], env=env, capture_output=True,
                       text=True, timeout=900, check=False)
  lines = [l for l in out.stdout.splitlines() if l.startswith("RESULT ")]
  assert out.returncode == 0 and lines, out.stderr[-3000:]
  return json.loads(lines[-1][len("RESULT "):])


def test_fsdp_state_is_sharded_like_params_with_no_full_weight_gather(report):
  fsdp = report["layouts"]["fsdp"]
  for tree in ("params", "momentum", "second_moment"):
    assert fsdp[tree] == {"w1": "P('fsdp', None)", "w2": "P('fsdp', None)", "b1": "P('fsdp',)"}
  assert fsdp["momentum_shard_shapes"] == {"w1": [16, 256], "w2": [32, 128], "b1": [32]}
  # Neither the weights nor the 256-element bias (one chunk spread over all 8 devices: its
  # statistics are partial sums and an all-reduce) are gathered.
  assert not fsdp["full_param_all_gathers"], fsdp["collectives"]
  assert fsdp["max_abs_diff_vs_one_device"] < 1e-5


def test_tiny_vit_trains_tensor_parallel_like_one_device(report):
  vit = report["vit"]
  np.testing.assert_allclose(vit["losses_sharded"], vit["losses_one_device"], rtol=1e-5)
  assert vit["losses_sharded"][-1] < vit["losses_sharded"][0]
  assert vit["max_abs_param_diff"] < 1e-4
  assert vit["momentum_specs"]["mlp_in"] == "P(None, 'model')"
  assert vit["momentum_specs"]["out"] == "P('model', None)"
  assert vit["mlp_in_momentum_shard_shape"] == [64, 64]
  # Row-split (Megatron "row-parallel") weights out [64, 64] and mlp_out [256, 64] are never gathered.
  assert not [g for g in vit["full_param_all_gathers"] if "(64, 64)" in g or "(256, 64)" in g]


def test_column_split_weights_are_not_gathered(report):
  # Megatron column-parallel qkv [64, 192] and mlp_in [64, 256] (split along their last axis):
  # HPE's chunk view only splits the last axis, so the per-chunk statistics are local sums plus an
  # all-reduce and no parameter-shaped all-gather appears in the compiled update.
  assert not report["vit"]["full_param_all_gathers"], report["vit"]["collectives"]
  for layout in ("fsdp", "fsdp_largest_axis", "tensor_parallel"):
    got = report["layouts"][layout]
    assert not got["full_param_all_gathers"], (layout, got["collectives"])
    assert got["max_abs_diff_vs_one_device"] < 1e-5


def test_state_shardings_of_an_optax_chain_follow_the_params():
  mesh = Mesh(np.array(jax.devices()[:1]), ("model",))
  p_sh = {"w": NamedSharding(mesh, P(None, "model")), "b": NamedSharding(mesh, P("model"))}
  params = {"w": np.zeros((4, 8), np.float32), "b": np.zeros((8,), np.float32)}
  lopt = mnemosyne_lopt.MnemosyneLOpt(chunk_length=8)
  import optax  # pylint: disable=g-import-not-at-top
  tx = optax.chain(optax.clip_by_global_norm(1.0),
                   mnemosyne_lopt.to_optax(lopt, lopt.init(jax.random.PRNGKey(0)), 10))
  state = tx.init(params)
  sh = msharding.state_shardings(state, p_sh)
  inner = sh[1].inner
  assert inner.momentum == p_sh and inner.second_moment == p_sh and inner.params is None
  assert all(s.spec == P() for s in jax.tree_util.tree_leaves((inner.memory, inner.iteration)))
  placed = msharding.shard_like_params(state, p_sh)
  assert placed[1].inner.momentum["w"].sharding == p_sh["w"]
  # optax's own Adam state: mu and nu are shaped like the params, count is replicated.
  adam_sh = msharding.state_shardings(optax.adam(1e-3).init(params), p_sh)
  assert adam_sh[0].mu == p_sh and adam_sh[0].nu == p_sh and adam_sh[0].count.spec == P()
