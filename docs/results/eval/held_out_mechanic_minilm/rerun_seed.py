"""MiniLM fine-tuning, one seed, through evaluation.run_one without Adam's reference run:
rerun_seed.py OPTIMIZER SEED OUT.json (run from the repository root)."""
import json, sys, time
import mnemosyne_lopt
from mnemosyne_lopt import evaluation
name, seed, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
opt = evaluation.make_optimizer(name)
spec = [s for s in evaluation.suite("held_out") if s.name == "minilm_finetune_austen"][0]
t = time.time()
r = evaluation.run_one(opt, opt.hyper, spec, seed, spec.num_steps, {})
print(name, seed, "test", r["final_test"], "valid", r["final_valid"], f"{time.time()-t:.0f}s", flush=True)
json.dump({"optimizer": name, "seed": seed, "final_test": r["final_test"], "final_valid": r["final_valid"]}, open(out, "w"), indent=1)
