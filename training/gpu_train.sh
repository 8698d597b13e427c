#!/usr/bin/env bash
# Train several models at once on a lent GPU machine (the `device` tool), with the
# project's own `python -m training.train` on Keras' JAX backend (that machine has JAX
# and no TensorFlow). Run it from the repository root there, carrying `.gpu` (the data
# packed by `python -m training.fer_pack pack --out .gpu/fer.xz`) and `.whl` (Keras'
# wheels for the machine's Python). To distil, put the teacher's soft-label file
# (`python -m training.soft_labels --output .gpu/soft.npz`) there too and give the runs
# `--set teacher=.gpu/soft.npz`; the call then exceeds 64 MiB unless the shipped
# emotion/shipped_model/model.tflite (not needed for training) is moved out of the tree for it.
#
#   bash training/gpu_train.sh NAME "TRAIN ARGS" [NAME "TRAIN ARGS" ...]
#   bash training/gpu_train.sh s13 "--recipe training/recipes/shipped_adam_s13.toml" \
#                              s11 "--recipe training/recipes/shipped_adam_s11.toml --time-budget 300"
#
# Each run trains as its recipe says (its `time_budget` bounds it) with four batch-building
# threads; the runs' folders, without their resume checkpoints, come back in $OUT as runs.tar
# split into 15 MB parts (the tool returns files of at most 16 MB), with one log per run.
# Settings (environment): OUT (default /tmp/out), WORK (scratch folder, default /tmp/gpu_train),
# PACKED (default .gpu/fer.xz), PYTHON (default python3), NO_WHEELS=1 (Keras is installed).
set -u
[ $# -ge 2 ] && [ $(($# % 2)) = 0 ] || { echo "usage: $0 NAME \"TRAIN ARGS\" [NAME \"TRAIN ARGS\" ...]"; exit 2; }
out=${OUT:-/tmp/out} work=${WORK:-/tmp/gpu_train} packed=${PACKED:-.gpu/fer.xz} python=${PYTHON:-python3}
mkdir -p "$out" "$work/runs"
if [ -z "${NO_WHEELS:-}" ]; then
  "$python" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$work/site" \
    .whl/*.whl || exit 1
fi
export PYTHONPATH=$work/site:$PWD KERAS_BACKEND=${KERAS_BACKEND:-jax} XLA_PYTHON_CLIENT_PREALLOCATE=false \
  PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi: no GPU seen"
"$python" -m training.fer_pack unpack --packed "$packed" --out "$work/fer2013.csv" || exit 1
pids=()
while [ $# -ge 2 ]; do
  name=$1 args=$2; shift 2
  # shellcheck disable=SC2086  # the run's arguments are meant to split
  "$python" -m training.train --data "$work/fer2013.csv" --output-dir "$work/runs/$name" \
    --set workers=4 $args >"$out/$name.log" 2>&1 &
  pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=$((failed + 1)); done
nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader 2>/dev/null
(cd "$work/runs" && tar cf - --exclude=last.keras --exclude=tmp-last.keras .) | split -b 15M - "$out/runs.tar."
for log in "$out"/*.log; do echo "== $log"; grep -E "val_accuracy|kept checkpoint|time budget|Error|error" "$log" | tail -3; done
[ "$failed" = 0 ] || { echo "$failed run(s) failed: see their logs"; exit 1; }
