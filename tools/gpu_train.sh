#!/usr/bin/env bash
# Train several models at once on a lent GPU machine (the `device` tool), with the
# project's own `python -m emotion.train` on Keras' JAX backend (that machine has JAX
# and no TensorFlow). Run it from the repository root there, carrying `.gpu` (the data
# packed by `python -m tools.fer_pack pack --out .gpu/fer.xz`) and `.whl` (Keras'
# wheels for Python 3.12, see the device README). To distil, put the teacher's soft-label
# file (`python -m emotion.soft_labels --output .gpu/soft.npz`) there too and give the runs
# `--teacher .gpu/soft.npz`; the call then exceeds 64 MiB unless the shipped
# emotion/shipped_model/model.tflite (not needed for training) is moved out of the tree for it.
#
#   bash tools/gpu_train.sh BUDGET_SECONDS NAME "TRAIN ARGS" [NAME "TRAIN ARGS" ...]
#
# Each run trains for BUDGET_SECONDS (`--time-budget`); the runs' folders, without
# their resume checkpoints, come back in $OUT as runs.tar split into 15 MB parts
# (the tool returns files of at most 16 MB), with one log per run.
set -u
budget=$1; shift
out=${OUT:-/tmp/out}
mkdir -p "$out" /tmp/runs
[ -n "${NO_WHEELS:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:$PWD KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m tools.fer_pack unpack --packed .gpu/fer.xz --out /tmp/fer2013.csv || exit 1
pids=()
while [ $# -ge 2 ]; do
  name=$1 args=$2; shift 2
  # shellcheck disable=SC2086  # the run's arguments are meant to split
  python3 -m emotion.train --data /tmp/fer2013.csv --output-dir "/tmp/runs/$name" \
    --time-budget "$budget" --workers 4 $args >"$out/$name.log" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader
(cd /tmp/runs && tar cf - --exclude=last.keras --exclude=tmp-last.keras .) | split -b 15M - "$out/runs.tar."
for log in "$out"/*.log; do echo "== $log"; grep -E "val_accuracy|kept checkpoint|time budget|Error|error" "$log" | tail -3; done
[ "$failed" = 0 ] || { echo "$failed run(s) failed: see their logs"; exit 1; }
