# Sourced by the held_out_v2_small_* run.sh scripts: held_out's nine tasks outside MiniLM
# (../held_out_tasks.sh) and the mnemosyne-eval optimizer kind of each NAME meta-trained by
# ../../meta_training/v2_small/run.sh.
source docs/results/eval/held_out_tasks.sh
declare -A kind=([mnemosyne]=mnemosyne [celo2_style]=celo2_style [lstm]=lstm
                 [lstm_features]=lstm_features [adafac]=adafac_mlp_lopt [rnn]=rnn_mlp_lopt
                 [orthogonal]=mnemosyne [orthogonal_gain]=mnemosyne
                 [orthogonal_gain_long]=mnemosyne)
