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
  env = dict(os.environ, XLA_FLAGS=(os.environ.get("XLA_FLAGS", "")
                                  + " --xla_force_host_platform_device_count=8"))
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
  # The CAM memory (8 streams: 5 meta-tokens padded to stream_multiple=8) is split over the 8
  # devices along its stream axis: each device holds 1/8 of it.
  assert fsdp["memory_specs"] == ["P('fsdp',)", "P('fsdp',)"]
  assert fsdp["memory_bytes_per_device"] * 8 == fsdp["memory_bytes_total"] == 8 * 64 * 17 * 4
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
  # On the 2x4 mesh the memory's 8 streams split over both axes: one stream per device.
  assert vit["memory_specs"] == ["P(('data', 'model'),)"] * 2
  assert vit["memory_shard_shapes"] == [[1, 64, 16], [1, 64]]
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
  assert inner.iteration.spec == P()
  # 2 streams (one per tensor) over a 1-device mesh: nothing to split.
  assert inner.memory.memory.spec == inner.memory.normaliser.spec == P(None)
  placed = msharding.shard_like_params(state, p_sh)
  assert placed[1].inner.momentum["w"].sharding == p_sh["w"]
  # optax's own Adam state: mu and nu are shaped like the params, count is replicated.
  adam_sh = msharding.state_shardings(optax.adam(1e-3).init(params), p_sh)
  assert adam_sh[0].mu == p_sh and adam_sh[0].nu == p_sh and adam_sh[0].count.spec == P()
  # init_scale_reference's per-tensor scalars f are replicated.
  rel = mnemosyne_lopt.MnemosyneLOpt(chunk_length=8, init_scale_reference=0.02)
  rel_state = rel.opt_fn(rel.init(jax.random.PRNGKey(0))).init(params, num_steps=10)
  rel_sh = msharding.state_shardings(rel_state, p_sh)
  assert rel_sh.step_scales["w"].spec == rel_sh.step_scales["b"].spec == P()
  assert rel_sh.momentum == p_sh
  assert msharding.shard_like_params(rel_state, p_sh).momentum["w"].sharding == p_sh["w"]


def test_stream_axes_take_the_largest_dividing_set_of_mesh_axes():
  assert msharding.stream_axes(1024, {"data": 16, "model": 16}) == ("data", "model")
  assert msharding.stream_axes(40, {"data": 16, "model": 4}) == ("model",)
  assert msharding.stream_axes(48, {"data": 16, "model": 3}) == ("data", "model")
  assert msharding.stream_axes(7, {"data": 8}) == ()
  assert msharding.stream_axes(64, {"pipe": 1, "data": 8}) == ("data",)


def test_memory_streams_are_padded_to_the_documented_multiple():
  lopt = mnemosyne_lopt.MnemosyneLOpt()
  # 4096 x 4096: 16,384 chunks of 1024, 1,024 meta-tokens of 16 chunks; multiple min(1024/8, 1024).
  assert lopt.num_memory_streams([(4096, 4096)]) == 1024
  # 1000 x 1000: one row per chunk, ceil(1000 / 16) = 63 streams, + 1 for the bias = 64 (multiple 8).
  assert lopt.num_memory_streams([(1000, 1000), (7,)]) == 64
  assert lopt.num_memory_streams([(1000, 1000), (7,), (3,)]) == 72
  assert mnemosyne_lopt.MnemosyneLOpt(stream_multiple=256).num_memory_streams([(7,)]) == 256
  assert lopt.stream_slices([(1000, 1000), (7,), (3,)]) == [slice(0, 63), slice(63, 64),
                                                            slice(64, 65)]
  with pytest.raises(ValueError, match="stream_multiple"):
    mnemosyne_lopt.MnemosyneLOpt(stream_multiple=0)


def test_per_coordinate_memory_is_sharded_like_its_parameter():
  mesh = Mesh(np.array(jax.devices()[:1]), ("model",))
  p_sh = {"w": NamedSharding(mesh, P(None, "model")), "b": NamedSharding(mesh, P())}
  params = {"w": np.zeros((4, 8), np.float32), "b": np.zeros((8,), np.float32)}
  lopt = mnemosyne_lopt.MnemosyneLOpt(rule="v1", mode="per_coordinate", chunk_length=8)
  state = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0))).init(params, num_steps=10)
  sh = msharding.state_shardings(state, p_sh)
  assert sh.memory["w"].memory.spec == P(None, "model", None, None)
  assert sh.memory["w"].normaliser.spec == P(None, "model", None)
  assert sh.memory["b"].memory.spec == P(None, None, None)
  placed = msharding.shard_like_params(state, p_sh)
  assert placed.memory["w"].memory.shape == (4, 8, 4, 1)
