"""How large Mnemosyne's step is against Adam's on reparam_100: per step and tensor, the RMS
ratio rms(Delta) / rms(A) (Delta: the step before the learning rate and weight decay; A: Adam's
m_hat / (sqrt(v_hat) + eps) on the same gradients) and the fraction of coordinates where
|Delta_i| < |A_i|, for ``mnemosyne_T`` at 2e-3 (3,000 steps, seeds 0-2), under the shipped bound
and under ``max_coordinate_ratio=1, align_with_adam=True``.  Writes step_ratio.json here.

    .venv/bin/python docs/results/stability/reparam100_12seeds/step_ratio.py
"""
import json
import os

import numpy as np

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
LR, STEPS, WD = 2e-3, 3000, 0.1
SETTINGS = {"shipped": {}, "coordinate_cap1_aligned": {"max_coordinate_ratio": 1.0, "align_with_adam": True}}


def measure(overrides):
  m = stability.step_ratios("reparam_100", "mnemosyne_T", STEPS, range(3), WD,
                            {"pretrained": "plain", **overrides}, LR)
  late = slice(STEPS // 20, None)          # after the first 5 % (the blow-up rule's window)
  return {"blew_up": [stability.blew_up(l) for l in m["losses"]],
          "rms_ratio_quantiles_10_50_90": np.quantile(m["ratio"][:, late], [0.1, 0.5, 0.9]).tolist(),
          "fraction_below_adam_mean": float(m["below"][:, late].mean())}


def main():
  out = {"learning_rate": LR, "steps": STEPS, "optimizer": "mnemosyne_T", "seeds": [0, 1, 2]}
  for name, overrides in SETTINGS.items():
    out[name] = measure(overrides)
    print(name, out[name])
  with open(os.path.join(HERE, "step_ratio.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()
