"""examples/flax_transformer_lm.py at its defaults (1,000 steps, d_model 128, 4 layers, batch
16 x 128 bytes, warmup-cosine, weight decay 0.1, clipping at 1), AdamW and mnemosyne() from the same
start on the same batches, for each initialisation, peak learning rate and seed given; results.json
and results.md next to this file.

    PYTHONPATH=. .venv/bin/python docs/results/examples/transformer_lm/runs.py \
        [--inits gpt,flax] [--rates 1e-3,3e-3] [--seeds 0,1,2] [--json PATH] [--merge PATH...]

``--json``: the results file to add to (default results.json here; two processes run side by
side each with its own); ``--merge``: add those files' runs to results.json, then write results.md.
"""
import argparse
import contextlib
import io
import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(HERE))))
sys.path.insert(0, os.path.join(ROOT, "examples"))
import flax_transformer_lm  # noqa: E402  pylint: disable=g-import-not-at-top,wrong-import-position


def table(results):
  lines = ["| initialisation | peak rate | AdamW test loss | `mnemosyne()` test loss | Mnemosyne / AdamW | "
           "seeds with Mnemosyne lower |", "|---|---:|---:|---:|---:|---:|"]
  for key, runs in results.items():
    init, rate = key.split("@")
    a = [r["adamw"]["test_loss"] for r in runs.values()]
    m = [r["mnemosyne"]["test_loss"] for r in runs.values()]
    lines.append(f"| {init} | {rate} | {np.mean(a):.4f} ± {np.std(a):.4f} | {np.mean(m):.4f} ± "
                 f"{np.std(m):.4f} | {np.mean(m) / np.mean(a):.3f} | "
                 f"{sum(x < y for x, y in zip(m, a))} of {len(a)} |")
  return lines


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
  parser.add_argument("--inits", default="gpt,flax")
  parser.add_argument("--rates", default="1e-3,3e-3")
  parser.add_argument("--seeds", default="0,1,2")
  parser.add_argument("--json", default=os.path.join(HERE, "results.json"))
  parser.add_argument("--merge", nargs="+", default=None)
  args = parser.parse_args(argv)
  path = args.json
  results = json.load(open(path)) if os.path.exists(path) else {}
  if args.merge:
    for other in args.merge:
      with open(other) as f:
        for key, runs in json.load(f).items():
          results.setdefault(key, {}).update(runs)
    with open(path, "w") as f:
      json.dump(results, f, indent=1)
  inits = [] if args.merge else args.inits.split(",")
  for init in inits:
    for rate in args.rates.split(","):
      for seed in args.seeds.split(","):
        key = f"{init}@{rate}"
        if seed in results.get(key, {}):
          continue
        with contextlib.redirect_stdout(io.StringIO()):
          out = flax_transformer_lm.main(["--init", init, "--learning_rate", rate, "--seed", seed])
        results.setdefault(key, {})[seed] = out
        print(f"{key} seed {seed}: AdamW {out['adamw']['test_loss']:.4f}  mnemosyne "
              f"{out['mnemosyne']['test_loss']:.4f}  ({out['adamw']['seconds']:.0f} s, "
              f"{out['mnemosyne']['seconds']:.0f} s)", flush=True)
        with open(path, "w") as f:
          json.dump(results, f, indent=1)
  lines = ["Test loss (nats per byte, 32 test batches of 16 x 128 bytes) after 1,000 steps, mean ± "
           "standard deviation over seeds; each seed is one initial model and one batch order for "
           "both optimizers.", ""] + table(results)
  with open(os.path.join(HERE, "results.md"), "w") as f:
    f.write("\n".join(lines) + "\n")
  print("\n".join(lines))


if __name__ == "__main__":
  main()
