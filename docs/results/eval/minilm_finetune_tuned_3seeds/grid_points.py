"""Grid points of mnemosyne_tuned (the default's learning-rate grid) on MiniLM fine-tuning, as
run_tuned runs them: python grid_points.py SEED LR_INDEX[,LR_INDEX] OUT.json"""
import json, sys, time
import mnemosyne_lopt
from mnemosyne_lopt import evaluation

seed, idx, out = int(sys.argv[1]), [int(i) for i in sys.argv[2].split(",")], sys.argv[3]
opt = evaluation.make_optimizer("mnemosyne_tuned:pretrained/orthogonal")
spec = [s for s in evaluation.suite("held_out") if s.name == "minilm_finetune_austen"][0]
cache, res = {}, {}
for i in idx:
  lr = opt.grid[i]
  t = time.time()
  r = evaluation.run_one(opt, opt.hyper_at(lr), spec, seed, spec.num_steps, cache)
  res[repr(lr)] = {"seed": seed, "lr": lr, "final_test": r["final_test"], "final_valid": r["final_valid"]}
  print(seed, lr, "test", r["final_test"], "valid", r["final_valid"], f"{time.time()-t:.0f}s", flush=True)
  json.dump(res, open(out, "w"), indent=1)
