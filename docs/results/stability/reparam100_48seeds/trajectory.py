"""How large Mnemosyne's steps are, over a run, against Adam's: reparam_100 at learning rate 2e-3
(3,000 steps, seeds 0-11) under ``mnemosyne`` (horizon unknown) and ``mnemosyne_T`` (told it), as
shipped and with the per-coordinate bound 1 instead of 2.  Per step, tensor and seed:

    r = rms(u + lr wd p) / (lr rms(A)),   A = m_hat / (sqrt(v_hat) + eps)

(the step without its weight decay against Adam's, ``stability.step_ratios``).  Prints and writes
to trajectory.json the median of r over seeds and tensors in windows of 500 steps (each run
counted until its first loss above 10x its initial one) and the blow-ups; trajectory.png: loss
and median r against the step.

    .venv/bin/python docs/results/stability/reparam100_48seeds/trajectory.py
"""
import json
import os

import numpy as np

from mnemosyne_lopt import stability

HERE = os.path.dirname(os.path.abspath(__file__))
LR, STEPS, SEEDS, WD, WINDOW = 2e-3, 3000, 12, 0.1, 500
RUNS = {"mnemosyne": ("mnemosyne", None), "mnemosyne_T": ("mnemosyne_T", None),
        "mnemosyne cap1": ("mnemosyne", {"max_coordinate_ratio": 1.0}),
        "mnemosyne_T cap1": ("mnemosyne_T", {"max_coordinate_ratio": 1.0})}


def trajectories(name, overrides):
  """(losses [SEEDS, STEPS], r [SEEDS, STEPS, tensors])."""
  m = stability.step_ratios("reparam_100", name, STEPS, range(SEEDS), WD,
                            {"pretrained": "plain", **(overrides or {})}, LR)
  return m["losses"], m["ratio"]


def main():
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top
  out = {"learning_rate": LR, "steps": STEPS, "seeds": SEEDS, "window": WINDOW, "runs": {}}
  fig, (ax_loss, ax_r) = plt.subplots(2, 1, figsize=(9, 7), sharex=True)
  for (label, (name, overrides)), colour in zip(RUNS.items(), ("C0", "C1", "C2", "C3")):
    losses, r = trajectories(name, overrides)
    start = STEPS // 20
    first = [int(np.argmax(l[start:] > 10 * l[0])) + start if stability.blew_up(l) else STEPS
             for l in losses]
    alive = np.arange(STEPS)[None, :] < np.asarray(first)[:, None]        # [seeds, steps]
    r_alive = np.where(alive[:, :, None], r, np.nan)
    windows = [float(np.nanmedian(r_alive[:, s:s + WINDOW])) for s in range(0, STEPS, WINDOW)]
    out["runs"][label] = {"blow_ups": int(sum(f < STEPS for f in first)),
                          "first_step_above_10x": [f if f < STEPS else None for f in first],
                          "median_r_per_window": windows}
    print(f"{label}: blow-ups {out['runs'][label]['blow_ups']}/{SEEDS}; median r per {WINDOW} steps: "
          + " ".join(f"{w:.2f}" for w in windows))
    for l in losses:
      ax_loss.semilogy(l, color=colour, lw=0.3, alpha=0.6)
    ax_loss.plot([], [], color=colour, label=label)
    ax_r.plot(np.nanmedian(r_alive, axis=(0, 2)), color=colour, lw=0.6, label=label)
  ax_loss.set_ylabel("training loss (every seed)"); ax_loss.legend(fontsize=8)
  ax_r.set_ylabel("median step RMS / Adam's"); ax_r.set_xlabel("step"); ax_r.legend(fontsize=8)
  fig.suptitle(f"reparam_100, learning rate {LR}, {SEEDS} seeds")
  fig.tight_layout(); fig.savefig(os.path.join(HERE, "trajectory.png"), dpi=90)
  with open(os.path.join(HERE, "trajectory.json"), "w") as f:
    json.dump(out, f, indent=1)


if __name__ == "__main__":
  main()
