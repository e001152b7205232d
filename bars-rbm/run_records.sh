#!/usr/bin/env bash
# Regenerate every committed record in results/ (run from the repository root).
# About 5 minutes on a quiet 2-core machine. The smoke (golden) records are written
# by tools/run_all.py --golden or by the GOLDEN_RUNS commands in bars_rbm.py.
set -euo pipefail
P="python3 bars-rbm/bars_rbm.py --quiet"
R=bars-rbm/results
$P --json $R/single_pcd_h8_seed0.json
$P --sweep 10 --json $R/sweep_pcd_h8.json
for m in cd1 cdk; do $P --sweep 10 --method $m --json $R/sweep_${m}_h8.json; done
for m in pcd cd1 cdk; do $P --sweep 10 --method $m --n-hidden 16 --json $R/sweep_${m}_h16.json; done
# the exact log-likelihood gradient in place of the sampled direction
$P --sweep 10 --method exact --json $R/sweep_exact_h8.json
$P --sweep 10 --method exact --weight-decay 0 --sparsity-cost 0 --json $R/sweep_exactml_h8.json
$P --sweep 10 --method exact --exact-data population --init-bars 2 --weight-decay 0 \
    --sparsity-cost 0 --lr 0.5 --epochs 200 --json $R/floor_exactml_h8.json
# one setting changed at a time from the default recipe (PCD, 8 hidden, seeds 0-9)
$P --sweep 10 --init-b-h 0 --json $R/ablation_init_b_h_0.json
$P --sweep 10 --init-b-h -2 --json $R/ablation_init_b_h_-2.json
$P --sweep 10 --batch-size 20 --json $R/ablation_batch_20.json
$P --sweep 10 --batch-size 50 --json $R/ablation_batch_50.json
$P --sweep 10 --weight-decay 1e-4 --json $R/ablation_weight_decay_1e-4.json
$P --sweep 10 --n-chains 10 --json $R/ablation_n_chains_10.json
$P --sweep 10 --sparsity-bias-only --json $R/ablation_sparsity_bias_only.json
$P --sweep 10 --sparsity-cost 0 --json $R/ablation_sparsity_cost_0.json
$P --sweep 100 --json $R/sweep100_pcd_h8.json
