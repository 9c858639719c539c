"""Largest MLP and Transformer whose full training step fits a memory budget, per optimizer.

A training step is forward, backward and optimizer update, jit-compiled with the parameters and
optimizer state donated (as in a real training loop).  Its memory is what XLA's buffer assignment
says (``benchmark_common.memory_stats``: argument + output + temp - alias bytes), found from the
*compiled* step lowered on abstract shapes (``jax.eval_shape`` for parameters and optimizer state,
``jax.ShapeDtypeStruct`` for the batch): nothing of the model's size is ever allocated.  The
largest width that fits is found by bisection over widths (memory grows with width).

Models (float32 throughout):

* ``mlp``: ``depth`` (4) dense layers of width w x w with biases and ReLU between them, on a batch of
  ``mlp_batch`` (256) inputs of width w, squared-error loss; 4 w^2 + 4 w parameters.
* ``transformer``: a decoder-only pre-LayerNorm Transformer of width d and depth L = d / 128
  (width and depth scaled together), d / 64 heads of 64, 4d feed-forward, learned positions, tied
  input/output embedding over a 32,768-token vocabulary, next-token cross-entropy on 8 sequences
  of 256 tokens; 12 d^2 L + (32,768 + 256) d parameters (plus LayerNorms).  The layers' weights are
  stacked ([L, ...]) and run by ``lax.scan``, as large-model code does, so every optimizer sees a
  dozen tensors whatever the depth.
"""

import math

import jax
import jax.numpy as jnp

from benchmark_common import memory_stats

GIB = 2 ** 30
VOCAB, SEQ, TX_BATCH = 32768, 256, 8


# --- models: (init(key) -> params, loss(params, batch), batch_shapes) ------------------------------
def mlp(width: int, depth: int = 4, batch: int = 256):
  def init(key):
    keys = jax.random.split(key, depth)
    return {f"layer{i}": {"w": jax.random.normal(k, (width, width), jnp.float32) / math.sqrt(width),
                          "b": jnp.zeros((width,), jnp.float32)} for i, k in enumerate(keys)}

  def loss(params, data):
    x = data["x"]
    for i in range(depth):
      x = x @ params[f"layer{i}"]["w"] + params[f"layer{i}"]["b"]
      if i < depth - 1:
        x = jax.nn.relu(x)
    return jnp.mean(jnp.square(x - data["y"]))

  shapes = {"x": jax.ShapeDtypeStruct((batch, width), jnp.float32),
            "y": jax.ShapeDtypeStruct((batch, width), jnp.float32)}
  return init, loss, shapes


def _layer_norm(x, scale, bias):
  mean = jnp.mean(x, -1, keepdims=True)
  var = jnp.mean(jnp.square(x - mean), -1, keepdims=True)
  return (x - mean) * jax.lax.rsqrt(var + 1e-5) * scale + bias


def transformer(width: int, vocab: int = VOCAB, seq: int = SEQ, batch: int = TX_BATCH):
  d, depth, heads = width, max(width // 128, 1), max(width // 64, 1)
  if d % 64:
    raise ValueError(f"the Transformer's width must be a multiple of 64 (heads of 64), got {d}.")

  def init(key):
    ke, kp, kq, ko, k1, k2 = jax.random.split(key, 6)
    normal = lambda k, shape, fan_in: jax.random.normal(k, shape, jnp.float32) / math.sqrt(fan_in)
    return {
        "embed": normal(ke, (vocab, d), d), "pos": normal(kp, (seq, d), d),
        "layers": {"ln1_s": jnp.ones((depth, d)), "ln1_b": jnp.zeros((depth, d)),
                   "qkv": normal(kq, (depth, d, 3 * d), d), "out": normal(ko, (depth, d, d), d),
                   "ln2_s": jnp.ones((depth, d)), "ln2_b": jnp.zeros((depth, d)),
                   "fc1": normal(k1, (depth, d, 4 * d), d), "fc1_b": jnp.zeros((depth, 4 * d)),
                   "fc2": normal(k2, (depth, 4 * d, d), 4 * d), "fc2_b": jnp.zeros((depth, d))},
        "ln_f_s": jnp.ones((d,)), "ln_f_b": jnp.zeros((d,))}

  def block(x, p):
    b, s, _ = x.shape
    h = _layer_norm(x, p["ln1_s"], p["ln1_b"])
    q, k, v = jnp.split((h @ p["qkv"]).reshape(b, s, 3 * heads, 64), 3, axis=2)
    logits = jnp.einsum("bqhc,bkhc->bhqk", q, k) / 8.0
    causal = jnp.tril(jnp.ones((s, s), bool))
    att = jax.nn.softmax(jnp.where(causal, logits, -1e9), axis=-1)
    x = x + jnp.einsum("bhqk,bkhc->bqhc", att, v).reshape(b, s, d) @ p["out"]
    h = _layer_norm(x, p["ln2_s"], p["ln2_b"])
    return x + jax.nn.gelu(h @ p["fc1"] + p["fc1_b"]) @ p["fc2"] + p["fc2_b"], None

  def loss(params, data):
    tokens = data["tokens"]
    x = params["embed"][tokens[:, :-1]] + params["pos"][:seq - 1]
    x, _ = jax.lax.scan(block, x, params["layers"])
    logits = _layer_norm(x, params["ln_f_s"], params["ln_f_b"]) @ params["embed"].T
    logp = jax.nn.log_softmax(logits)
    return -jnp.mean(jnp.take_along_axis(logp, tokens[:, 1:, None], axis=-1))

  shapes = {"tokens": jax.ShapeDtypeStruct((batch, seq), jnp.int32)}
  return init, loss, shapes


MODELS = {"mlp": mlp, "transformer": transformer}


# --- training step ----------------------------------------------------------------------------
def optimizer_fns(name: str, num_steps: int = 10_000):
  """(init(params) -> state, update(state, grads, loss) -> state, params_of(state))."""
  if name == "adam":
    from mnemosyne_lopt.outer_trainers import meta_training  # pylint: disable=g-import-not-at-top
    return meta_training.adam_fns(1e-3)
  if name in ("mnemosyne", "mnemosyne_bf16"):
    from mnemosyne_lopt import MnemosyneLOpt  # pylint: disable=g-import-not-at-top
    lopt = MnemosyneLOpt(compute_dtype="bfloat16" if name == "mnemosyne_bf16" else "float32")
    opt = lopt.opt_fn(lopt.init(jax.random.PRNGKey(0)))
    return ((lambda p: opt.init(p, num_steps=num_steps)),
            (lambda s, g, loss: opt.update(s, g, loss=loss)), opt.get_params)
  raise ValueError(f"unknown optimizer {name!r}; use 'adam', 'mnemosyne' or 'mnemosyne_bf16'.")


def train_step_fn(loss_fn, opt_name: str):
  """jit(step)(state, batch) -> (state, loss), state donated."""
  opt_init, opt_update, params_of = optimizer_fns(opt_name)

  def step(state, batch):
    loss, grads = jax.value_and_grad(loss_fn)(params_of(state), batch)
    return opt_update(state, grads, loss), loss
  return opt_init, jax.jit(step, donate_argnums=0)


def abstract_step(model: str, width: int, opt_name: str, **model_kw):
  """(compiled step, abstract state, batch shapes, number of parameters); nothing allocated."""
  init, loss_fn, batch_shapes = MODELS[model](width, **model_kw)
  opt_init, step = train_step_fn(loss_fn, opt_name)
  params = jax.eval_shape(init, jax.random.PRNGKey(0))
  state = jax.eval_shape(opt_init, params)
  num_params = sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(params))
  compiled = step.lower(state, batch_shapes).compile()
  return compiled, state, batch_shapes, num_params


def step_memory(model: str, width: int, opt_name: str, **model_kw) -> dict:
  compiled, state, _, num_params = abstract_step(model, width, opt_name, **model_kw)
  out = memory_stats(compiled)
  out.update(width=width, num_params=num_params,
             state_bytes=sum(math.prod(x.shape) * x.dtype.itemsize
                             for x in jax.tree_util.tree_leaves(state)))
  return out


def largest_fitting(model: str, opt_name: str, budget_bytes: int, lo: int, hi: int, step: int,
                    log=None, **model_kw):
  """Bisection over widths lo, lo + step, ..., hi (lo must fit, hi must not): the largest width
  whose step fits ``budget_bytes``.  Returns (fitting probe, first non-fitting probe, probes)."""
  probes = []

  def probe(w):
    m = step_memory(model, w, opt_name, **model_kw)
    probes.append(m)
    if log:
      log(f"  {model} {opt_name} width {w}: {m['num_params'] / 1e6:.1f}M params, "
          f"{m['peak_bytes'] / GIB:.2f} GiB")
    return m

  best, fail = probe(lo), probe(hi)
  if best["peak_bytes"] > budget_bytes:
    raise ValueError(f"width {lo} does not fit {budget_bytes / GIB:.1f} GiB; lower the bracket.")
  if fail["peak_bytes"] <= budget_bytes:
    raise ValueError(f"width {hi} fits {budget_bytes / GIB:.1f} GiB; raise the bracket.")
  while (fail["width"] - best["width"]) > step:
    mid = best["width"] + (fail["width"] - best["width"]) // (2 * step) * step
    m = probe(mid)
    if m["peak_bytes"] <= budget_bytes:
      best = m
    else:
      fail = m
  return best, fail, probes


def measured_peak_rss(model: str, width: int, opt_name: str) -> dict:
  """Runs ONE real training step and measures the process's resident memory (Linux only).

  Arguments: RSS after allocating the state and batch minus RSS before (after compiling).  The
  step: the peak-RSS mark is reset (``/proc/self/clear_refs`` 5) once they exist, and VmHWM after
  one step minus the RSS before it is what the step added (outputs not written in place, scratch),
  to compare with output + temp - alias bytes.
  """
  def rss(field):
    with open("/proc/self/status") as f:
      for line in f:
        if line.startswith(field + ":"):
          return int(line.split()[1]) * 1024
    raise RuntimeError(f"{field} not in /proc/self/status")

  init, loss_fn, batch_shapes = MODELS[model](width)
  opt_init, step = train_step_fn(loss_fn, opt_name)
  params_abstract = jax.eval_shape(init, jax.random.PRNGKey(0))
  compiled = step.lower(jax.eval_shape(opt_init, params_abstract), batch_shapes).compile()
  predicted = memory_stats(compiled)
  before_args = rss("VmRSS")
  state = jax.block_until_ready(jax.jit(lambda k: opt_init(init(k)))(jax.random.PRNGKey(0)))
  batch = {k: (jnp.zeros(v.shape, v.dtype) if v.dtype == jnp.int32 else
               jax.random.normal(jax.random.PRNGKey(1), v.shape, v.dtype))
           for k, v in batch_shapes.items()}
  batch = jax.block_until_ready(batch)
  with open("/proc/self/clear_refs", "w") as f:
    f.write("5")
  before_step = rss("VmRSS")
  state, loss = compiled(state, batch)
  loss = float(jax.block_until_ready(loss))
  peak = rss("VmHWM")
  num_params = sum(math.prod(x.shape) for x in jax.tree_util.tree_leaves(params_abstract))
  return dict(width=width, num_params=num_params, loss=loss,
              measured_argument_bytes=before_step - before_args,
              measured_step_extra_bytes=peak - before_step,
              predicted_step_extra_bytes=(predicted["output_bytes"] + predicted["temp_bytes"]
                                          - predicted["alias_bytes"]),
              **predicted)


if __name__ == "__main__":
  import json  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  # python benchmarks/model_fit.py rss MODEL WIDTH OPTIMIZER: one real step, JSON on stdout.
  if len(sys.argv) == 5 and sys.argv[1] == "rss":
    print(json.dumps(measured_peak_rss(sys.argv[2], int(sys.argv[3]), sys.argv[4])))
  else:
    sys.exit("usage: model_fit.py rss MODEL WIDTH OPTIMIZER (run_all.py runs the bisection)")
