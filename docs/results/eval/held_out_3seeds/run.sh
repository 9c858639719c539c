#!/bin/bash
# lo_ImageMLP_FashionMnist8_Relu32 was in the held_out suite when this ran; it is the meta-training family
# fmnist/ImageMLPFamily and is now only in in_distribution: rerun it with --suite in_distribution.
# held_out, 3 seeds, default Adam vs the pretrained Mnemosyne v1, on the tasks other than the
# two MiniLM ones (260-365 s per run each); code at the commit in the log's first line.
cd /work/main
git log --oneline | head -1
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out \
  --tasks transformer_lm_kjv_tiny,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10,lo_ImageMLP_FashionMnist8_Relu32 \
  --optimizers adam,mnemosyne:pretrained/v1 --seeds 3 --out runs/eval/held_out_3seeds
echo "== done rc $? $(date -u +%T)"
#!/bin/bash
# Tuned Adam, 3 seeds, on the nine held_out tasks of the 3-seed sweep, split over the two cores.
cd /work/main
git log --oneline | head -1
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --tasks transformer_lm_kjv_tiny,vit_tiny_finetune,mnist_npm28_conv16x32,lo_quadratic10 \
  --optimizers adam,adam_tuned --seeds 3 --out runs/eval/held_out_tuned3_a > runs/eval/held_out_tuned3_a.log 2>&1 &
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --tasks bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,lo_ImageMLP_FashionMnist8_Relu32 \
  --optimizers adam,adam_tuned --seeds 3 --out runs/eval/held_out_tuned3_b > runs/eval/held_out_tuned3_b.log 2>&1 &
wait
echo "== done $(date -u +%T)"

# Session of 2026-12-01/02: the two MiniLM tasks, adam and the pretrained Mnemosyne, 3 seeds (32 and 29 min, one core each),
# merged with this folder as it was at 58f3759 (runs/eval/held_out_3seeds_before: its results.json unzipped):
taskset -c 1 .venv/bin/mnemosyne-eval --suite held_out --tasks minilm_finetune_austen --optimizers adam,mnemosyne:pretrained/v1 \
  --seeds 3 --out runs/eval/held_out_3seeds_minilm_finetune_austen &
taskset -c 0 .venv/bin/mnemosyne-eval --suite held_out --tasks minilm_prompt_austen --optimizers adam,mnemosyne:pretrained/v1 \
  --seeds 3 --out runs/eval/held_out_3seeds_minilm_prompt_austen &
wait
.venv/bin/mnemosyne-eval --merge runs/eval/held_out_3seeds_before runs/eval/held_out_3seeds_minilm_finetune_austen \
  runs/eval/held_out_3seeds_minilm_prompt_austen --out docs/results/eval/held_out_3seeds
