# Sourced by the held_out run.sh scripts: held_out's nine tasks outside MiniLM (its two MiniLM tasks
# run apart, about 40 minutes a task for 3 seeds of one optimizer on one core).
tasks=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10
