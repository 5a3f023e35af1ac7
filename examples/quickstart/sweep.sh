#!/usr/bin/env bash
# Train once per learning rate. Each `mlcli run` started here is recorded as a child
# of the sweep's own run (MLCLI_RUN_ID is set), so `mlcli runs list` shows the tree.
set -euo pipefail
alphas=$1
epochs=$2
for alpha in $alphas; do
    mlcli run . --env-manager local -q -P alpha="$alpha" -P epochs="$epochs" \
        -P label="alpha=$alpha" --run-name "alpha-$alpha"
done
mlcli log tag swept "$alphas"
