#!/usr/bin/env bash
# Log from the shell: `mlcli log` writes to the run in MLCLI_RUN_ID.
set -euo pipefail
note=$1
dashboard=$2
mlcli log tag note "$note"
mlcli log tag dashboard "$dashboard"
mlcli log metric report_lines "$(wc -l < data/points.csv)"
echo "logged a note to run $MLCLI_RUN_ID"
