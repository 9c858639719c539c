# Sourced by the held_out_v2_small_* run.sh scripts: held_out's nine tasks outside MiniLM and the
# mnemosyne-eval optimizer kind of each NAME meta-trained by ../../meta_training/v2_small/run.sh.
tasks=transformer_lm_kjv_tiny,transformer_lm_kjv_tiny_flaxinit,vit_tiny_finetune,bert_mlm_austen_tiny,t5_tiny_prompt,mnist5k28_mlp128x64_relu_10k,mnist_npm28_mlp32_tanh_10k,mnist_npm28_conv16x32,lo_quadratic10
declare -A kind=([mnemosyne]=mnemosyne [celo2_style]=celo2_style [lstm]=lstm
                 [lstm_features]=lstm_features [adafac]=adafac_mlp_lopt [rnn]=rnn_mlp_lopt
                 [orthogonal]=mnemosyne [orthogonal_gain]=mnemosyne
                 [orthogonal_gain_long]=mnemosyne)
