#!/usr/bin/env bash
# On a lent GPU machine, after tests/gpu/prepare.sh here: the CUDA path of training (device
# choice, bf16 autocast, checkpoint + kill -9 + resume) and the train.yml GPU checks.
#   run: bash tests/gpu/cuda_check.sh   (carry .whl and .gpu)
set -u
export PYTHONUNBUFFERED=1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site .whl/*.whl || exit 1
nvidia-smi -L
python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
echo "== train.yml GPU checks"; python3 tests/gpu/gpu_check.py --python python3; echo "gpu_check exit $?"
cd .gpu/penguin-classifier || exit 1
export PYTHONPATH=src:/tmp/site MLFLOW_TRACKING_URI="sqlite:///$PWD/mlflow.db"
echo "== train on GPU"; /usr/bin/time -f "train wall %es" python3 -m penguin_classifier train 2>&1 | grep -E "epoch (1|40)/|registered|wall|rror"
python3 - <<'PY'
import json, mlflow
report = json.load(open("reports/train.json"))
run = mlflow.MlflowClient().get_run(report["run_id"])
print("device tag:", run.data.tags.get("device"), "| eval accuracy:", report["metrics"]["accuracy"])
PY
echo "== gate"; python3 -m penguin_classifier gate 2>&1 | tail -1; echo "gate exit ${PIPESTATUS[0]}"
echo "== second identical training on GPU (determinism on CUDA is not promised; reported)"
python3 -m penguin_classifier train 2>&1 | grep registered
echo "== kill -9 mid-training on GPU, then resume"
sed 's/  epochs: 40/  epochs: 300/' params.yaml > slow.yaml
python3 -m penguin_classifier --params slow.yaml train > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  python3 -c "import torch,sys; sys.exit(0 if torch.load('checkpoints/penguin_classifier/last.pt', weights_only=True)['epoch'] >= 5 else 1)" 2>/dev/null && break
  sleep 0.2
done
kill -9 $pid; wait $pid 2>/dev/null
python3 -m penguin_classifier --params slow.yaml train --resume 2>&1 | grep -E "resuming|registered|rror"
python3 -c "import json; r = json.load(open('reports/train.json')); print('resumed_from_epoch', r['resumed_from_epoch'], 'epochs_run', r['epochs_run'])"
cp reports/*.json "$OUT/" 2>/dev/null
