"""Fault test: a meta-training run SIGKILLed at several random moments ends bitwise equal to an
uninterrupted one.

    .venv/bin/python scripts/fault_test.py [--kills 5] [--num_outer_steps 100] [--seed 0] \
        [--gin_config meta_train/quickstart.gin] [--out runs/fault_test]

Runs the command ``mnemosyne-meta-train`` once without interruption (``OUT/full``), then again
(``OUT/killed``) killing it with SIGKILL ``--kills`` times, each time at a random moment after the
run's checkpoint reached a randomly drawn outer step (plus a random 0-3 s delay, so kills land
inside steps, between them, and during checkpoint writes), and restarting it with the same
command.  At the end the meta-parameters (``theta.msgpack``) and the held-out evaluation history of
both runs are compared byte for byte.  Writes ``OUT/fault_test.json`` and exits 1 on a mismatch.
"""

import argparse
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np

import mnemosyne_lopt  # noqa: F401  (compat names, so that checkpoints unpickle)


def _command(args, log_dir):
  exe = os.path.join(os.path.dirname(sys.executable), "mnemosyne-meta-train")
  return [exe, f"--gin_config={args.gin_config}", f"--train_log_dir={log_dir}",
          f"--num_outer_steps={args.num_outer_steps}",
          f"--gin_bindings=meta_train.checkpoint_every = {args.checkpoint_every}",
          "--gin_bindings=meta_train.progress = False",
          "--gin_bindings=meta_train.tensorboard = False"]


def _checkpoint_step(log_dir):
  try:
    with open(os.path.join(log_dir, "checkpoint.pkl"), "rb") as f:
      return pickle.load(f)["step"]
  except FileNotFoundError:
    return -1


def main(argv=None):
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument("--kills", type=int, default=5)
  parser.add_argument("--num_outer_steps", type=int, default=100)
  parser.add_argument("--checkpoint_every", type=int, default=5)
  parser.add_argument("--seed", type=int, default=0, help="seed of the kill moments")
  parser.add_argument("--gin_config", default="meta_train/quickstart.gin")
  parser.add_argument("--out", default="runs/fault_test")
  args = parser.parse_args(argv)
  rng = np.random.RandomState(args.seed)
  shutil.rmtree(args.out, ignore_errors=True)
  full, killed = os.path.join(args.out, "full"), os.path.join(args.out, "killed")
  env = dict(os.environ)
  env.setdefault("JAX_COMPILATION_CACHE_DIR", "/tmp/mnemosyne_lopt_fault_test_xla_cache")
  t0 = time.time()
  print(f"[fault-test] uninterrupted run -> {full}", flush=True)
  subprocess.run(_command(args, full), check=True, env=env, stdout=subprocess.DEVNULL)
  # Kill moments: after random outer steps spread over the run (each at least one checkpoint
  # after the previous restart's), plus a random 0-3 s.
  targets = sorted(rng.randint(1, args.num_outer_steps - args.checkpoint_every, size=args.kills))
  kills = []
  for i, target in enumerate(targets):
    # Each restart makes progress before its kill: at least one new checkpoint past the one it
    # resumed from.
    target = max(int(target), _checkpoint_step(killed) + args.checkpoint_every)
    proc = subprocess.Popen(_command(args, killed), env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    while proc.poll() is None and _checkpoint_step(killed) < target:
      time.sleep(0.25)
    time.sleep(rng.uniform(0.0, 3.0))
    if proc.poll() is not None:
      print(f"[fault-test] kill {i + 1}: run had already finished; no kill", flush=True)
      kills.append({"target_step": int(target), "killed": False})
      continue
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    step = _checkpoint_step(killed)
    print(f"[fault-test] kill {i + 1}/{args.kills}: SIGKILL with checkpoint at outer step {step}",
          flush=True)
    kills.append({"target_step": int(target), "killed": True, "checkpoint_step": int(step)})
  print("[fault-test] final resume", flush=True)
  subprocess.run(_command(args, killed), check=True, env=env, stdout=subprocess.DEVNULL)

  def read(log_dir, name):
    with open(os.path.join(log_dir, name), "rb") as f:
      return f.read()

  same_theta = read(full, "theta.msgpack") == read(killed, "theta.msgpack")
  hist = [json.loads(read(d, "history.json")) for d in (full, killed)]
  strip = lambda h: [{k: v for k, v in e.items() if k != "time"} for e in h]
  same_history = strip(hist[0]) == strip(hist[1])
  result = {"kills": kills, "num_outer_steps": args.num_outer_steps,
            "gin_config": args.gin_config, "theta_bitwise_equal": same_theta,
            "history_equal_except_wall_time": same_history,
            "wall_seconds": round(time.time() - t0, 1)}
  with open(os.path.join(args.out, "fault_test.json"), "w") as f:
    json.dump(result, f, indent=1)
  print(json.dumps(result, indent=1))
  return 0 if same_theta and same_history else 1


if __name__ == "__main__":
  sys.exit(main())
