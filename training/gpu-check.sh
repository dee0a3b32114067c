#!/usr/bin/env bash
# Runs training/train.py on a CUDA GPU with a synthetic dataset in the mlops-matrix/v1 channel format, then
# prints metrics.json and the timings. Needs only python3 with torch and numpy (onnx is optional); no Node.
#
#   training/gpu-check.sh                      # 200k rows x 40 features, device=cuda
#   ROWS=20000 FEATURES=10 DEVICE=cpu training/gpu-check.sh   # a quick run anywhere
#   COMPARE_CPU=1 training/gpu-check.sh        # also trains the same data on CPU and prints both timings
#   CHECK_REPEAT=1 training/gpu-check.sh       # trains twice on the device and compares model.onnx bytes
#
# Environment: PYTHON (default: the first of /usr/bin/python3, python3 that imports torch), ROWS, FEATURES,
# DEVICE (cuda), EPOCHS (20), BATCH_SIZE (1024), HIDDEN (64,32), SEED (7), WORK (a temp dir, kept on exit
# when KEEP=1).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
ROWS="${ROWS:-200000}"
FEATURES="${FEATURES:-40}"
DEVICE="${DEVICE:-cuda}"
EPOCHS="${EPOCHS:-20}"
BATCH_SIZE="${BATCH_SIZE:-1024}"
HIDDEN="${HIDDEN:-64,32}"
SEED="${SEED:-7}"

if [[ -z "${PYTHON:-}" ]]; then
  for candidate in /usr/bin/python3 python3; do
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import torch, numpy' >/dev/null 2>&1; then
      PYTHON="$candidate"
      break
    fi
  done
fi
if [[ -z "${PYTHON:-}" ]]; then
  echo "gpu-check: no python3 that can import torch and numpy (set PYTHON=...)" >&2
  exit 1
fi

WORK="${WORK:-$(mktemp -d)}"
if [[ "${KEEP:-0}" != "1" ]]; then trap 'rm -rf "$WORK"' EXIT; fi
echo "gpu-check: python=$PYTHON work=$WORK rows=$ROWS features=$FEATURES device=$DEVICE"

"$PYTHON" - <<'EOF'
import torch
print(f"gpu-check: torch {torch.__version__}, cuda available: {torch.cuda.is_available()}"
      + (f", {torch.cuda.get_device_name(0)}, CUDA {torch.version.cuda}" if torch.cuda.is_available() else ""))
try:
    import onnx
    print(f"gpu-check: onnx {onnx.__version__}")
except ImportError:
    print("gpu-check: onnx not importable; train.py will skip onnx.checker")
EOF

# A synthetic tabular problem: mixed-scale features, a nonlinear logit, Bernoulli labels; 80/20 split.
"$PYTHON" - "$WORK" "$ROWS" "$FEATURES" "$SEED" <<'EOF'
import json, os, sys
import numpy as np

work, rows, width, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
rng = np.random.default_rng(seed)
X = rng.normal(size=(rows, width)).astype(np.float32)
X[:, : width // 4] = (X[:, : width // 4] > 0.5).astype(np.float32)  # some binary columns, as one-hot gives
w = rng.normal(scale=2.0 / np.sqrt(width), size=width)
z = X @ w + 0.8 * np.sin(X[:, -1] * 2.0) + 0.5 * X[:, -2] * X[:, -3] - 0.7
y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float32)
cut = int(rows * 0.8)
names = [f"f{i}" for i in range(width)]
for name, (Xs, ys) in {"train": (X[:cut], y[:cut]), "validation": (X[cut:], y[cut:])}.items():
    d = os.path.join(work, name)
    os.makedirs(d, exist_ok=True)
    header = {"format": "mlops-matrix/v1", "rows": int(len(ys)), "features": width, "featureNames": names,
              "dtype": "float32", "labelDtype": "float32", "byteOrder": "little", "layout": "row-major",
              "positives": int(ys.sum()), "lineage": {"model": "gpu-check-synthetic"}}
    with open(os.path.join(d, "header.json"), "w") as f:
        json.dump(header, f)
    np.ascontiguousarray(Xs, dtype="<f4").tofile(os.path.join(d, "features.bin"))
    np.ascontiguousarray(ys, dtype="<f4").tofile(os.path.join(d, "labels.bin"))
print(f"gpu-check: wrote {cut} train and {rows - cut} validation rows, positive rate {y.mean():.3f}")
EOF

run_train() { # device, out dir
  local device="$1" out="$2"
  mkdir -p "$out"
  cat >"$out/hyperparameters.json" <<EOF
{"seed": "$SEED", "epochs": "$EPOCHS", "batch_size": "$BATCH_SIZE", "learning_rate": "0.002",
 "hidden": "$HIDDEN", "patience": "5", "device": "$device"}
EOF
  local start end
  start=$(date +%s.%N)
  SM_CHANNEL_TRAIN="$WORK/train" SM_CHANNEL_VALIDATION="$WORK/validation" SM_MODEL_DIR="$out/model" \
    SM_OUTPUT_DATA_DIR="$out/data" SM_FAILURE_FILE="$out/failure" SM_HP_FILE="$out/hyperparameters.json" \
    "$PYTHON" "$here/train.py"
  end=$(date +%s.%N)
  echo "gpu-check: $device run took $("$PYTHON" -c "print(round($end - $start, 3))") s wall (process start to exit)"
}

run_train "$DEVICE" "$WORK/$DEVICE"
echo "---- metrics.json ($DEVICE) ----"
"$PYTHON" - "$WORK/$DEVICE/model/metrics.json" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m.pop("featureNames", None)
history = m.pop("history", [])
print(json.dumps(m, indent=2))
print(f"history: {len(history)} epochs; train seconds per epoch ~ {m['seconds']['train'] / max(1, len(history)):.3f} (the first includes moving the data to the device)")
EOF
ls -l "$WORK/$DEVICE/model"

# The serving signature, read back by onnxruntime when the Python package is there (Node serves it in production).
"$PYTHON" - "$WORK/$DEVICE/model/model.onnx" "$WORK/validation" <<'EOF'
import json, os, sys
import numpy as np
try:
    import onnxruntime as ort
except ImportError:
    print("gpu-check: onnxruntime (Python) not importable; signature check skipped")
    sys.exit(0)
session = ort.InferenceSession(sys.argv[1], providers=["CPUExecutionProvider"])
header = json.load(open(os.path.join(sys.argv[2], "header.json")))
X = np.fromfile(os.path.join(sys.argv[2], "features.bin"), dtype="<f4").reshape(header["rows"], header["features"])[:1000]
print("gpu-check: inputs", [(i.name, i.type, i.shape) for i in session.get_inputs()])
print("gpu-check: outputs", [(o.name, o.type, o.shape) for o in session.get_outputs()])
probs, label = session.run(["probabilities", "label"], {"features": X})
assert probs.dtype == np.float32 and probs.shape == (len(X), 2), probs.shape
assert label.dtype == np.int64 and label.shape == (len(X),), label.shape
assert np.all((probs >= 0) & (probs <= 1)) and np.allclose(probs.sum(axis=1), 1, atol=1e-6)
assert np.array_equal(label, (probs[:, 1] >= 0.5).astype(np.int64))
print("gpu-check: onnxruntime serving signature OK")
EOF

if [[ "${CHECK_REPEAT:-0}" == "1" ]]; then
  run_train "$DEVICE" "$WORK/$DEVICE-again" >/dev/null
  if cmp -s "$WORK/$DEVICE/model/model.onnx" "$WORK/$DEVICE-again/model/model.onnx"; then
    echo "gpu-check: a second $DEVICE run gave a bit-identical model.onnx"
  else
    echo "gpu-check: a second $DEVICE run gave a DIFFERENT model.onnx; validation auc $("$PYTHON" -c "import json,sys; print([json.load(open(p))['validation']['auc'] for p in sys.argv[1:]])" "$WORK/$DEVICE/model/metrics.json" "$WORK/$DEVICE-again/model/metrics.json")"
  fi
fi

if [[ "${COMPARE_CPU:-0}" == "1" && "$DEVICE" != "cpu" ]]; then
  run_train cpu "$WORK/cpu"
  "$PYTHON" - "$WORK/$DEVICE/model/metrics.json" "$WORK/cpu/model/metrics.json" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print(f"gpu-check: {a['device']}: train {a['seconds']['train']} s, auc {a['validation']['auc']:.4f}, {a['epochsRun']} epochs")
print(f"gpu-check: {b['device']}: train {b['seconds']['train']} s, auc {b['validation']['auc']:.4f}, {b['epochsRun']} epochs")
print(f"gpu-check: speed-up {b['seconds']['train'] / a['seconds']['train']:.1f}x")
EOF
fi
