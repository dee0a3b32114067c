#!/usr/bin/env python3
"""SageMaker training entry point: a tabular MLP in PyTorch, exported as the project's ONNX serving model.

CONTRACT (the TypeScript side is src/core/training/matrix-format.ts and src/core/onnx/export-network.ts)

Inputs: channels in the `mlops-matrix/v1` format
    A channel directory holds three files, written by `encodeMatrix` in TypeScript from the output of the
    project's transforms (this script never computes features):
      header.json   {"format": "mlops-matrix/v1", "rows": N, "features": D, "featureNames": [D names],
                     "dtype": "float32", "labelDtype": "float32", "byteOrder": "little", "layout": "row-major",
                     "positives": count of 1 labels,
                     "lineage": {"model", "specHash", "transformCodeHash", "datasetSha256"}   (optional)}
      features.bin  N x D float32, little-endian, row-major, exactly N*D*4 bytes, all finite
      labels.bin    N float32, little-endian, each 0 or 1 (1 = positive class), exactly N*4 bytes
    or in the multi-part `mlops-matrix/v2` format (what the pipeline's training-set build writes): the header
    has "format": "mlops-matrix/v2", the totals, and "parts": [{"features": "features-00000.bin",
    "labels": "labels-00000.bin", "rows": n, "positives": p}, ...]; each part's files follow the rules above
    for its own rows, and the channel is the parts' rows concatenated in the listed order (all in memory).
    Anything else (unknown or missing header fields, wrong sizes, NaN/Inf, other labels, a positives count
    that does not match, validation columns that differ from train's) fails the job.

Environment (SageMaker's standard variables; set them yourself for a local run)
    SM_CHANNEL_TRAIN       train channel directory (required)
    SM_CHANNEL_VALIDATION  validation channel directory (optional: without it a stratified, seeded
                           `validation_fraction` of train is held out)
    SM_MODEL_DIR           where model.onnx and metrics.json go (SageMaker packs it as model.tar.gz)
    SM_OUTPUT_DATA_DIR     where validation-predictions.bin goes when asked for (output.tar.gz)
    SM_HP_FILE             hyperparameters JSON (default /opt/ml/input/config/hyperparameters.json)
    SM_FAILURE_FILE        failure reason file (default /opt/ml/output/failure, which SageMaker reports)
    SM_CHECKPOINT_DIR      checkpoint directory (default /opt/ml/checkpoints when it exists, which SageMaker
                           syncs with CheckpointConfig.S3Uri): a checkpoint is written after every epoch, and a
                           restarted job (a reclaimed managed spot instance) resumes from it, bit for bit

Hyperparameters: a JSON object of strings, as SageMaker passes them (numbers and JSON-quoted strings are
accepted too). `--hyperparameters PATH` replaces SM_HP_FILE; `--name value` arguments (how SageMaker's
framework containers pass them) override the file. Keys starting with `sagemaker_` are ignored; any other
unknown key is an error.
    seed                         42      initialization, batch order and the fallback split
    epochs                       50      upper bound on epochs
    batch_size                   256
    learning_rate                0.001   Adam
    hidden                       "32,16" hidden ReLU layer widths; "" gives logistic regression
    weight_decay                 0.001   L2 added to the gradient of weights (not biases), as the TS trainer
    patience                     5       stop after this many epochs without a better validation log loss;
                                         0 trains all epochs. The best epoch's weights are kept.
    min_delta                    0.0     the improvement in validation log loss that counts as better
    threshold                    0.5     the spec's decision threshold: label = 1 when P(positive) >= it
    validation_fraction          0.2     only without a validation channel
    device                       auto    auto (CUDA when available) | cpu | cuda
    save_validation_predictions  false   write validation-predictions.bin

Outputs
    $SM_MODEL_DIR/model.onnx    input  `features`      float32 [batch, D]  (dynamic batch axis)
                                output `probabilities` float32 [batch, 2]  ([P(negative), P(positive)])
                                output `label`         int64   [batch]     (1 when P(positive) >= threshold)
                                opset 17, exported from the best weights on CPU in eval mode; checked with
                                onnx.checker when the onnx package is importable (else a logged warning).
    $SM_MODEL_DIR/metrics.json  {"format": "mlops-training-metrics/v1", "validation": {auc, accuracy, logLoss,
                                brier, rows, positiveRate} (the definitions of src/core/training/metrics.ts,
                                computed from the exported model's float32 probabilities), "epochsRun",
                                "bestEpoch", "stoppedEarly", "history" [{epoch, trainLoss, validationLogLoss}],
                                "device", "deviceName", "torchVersion", "onnxVersion", "onnxChecked",
                                "opsetVersion", "seconds" {load, train, export, total}, "hyperparameters" (typed),
                                "data" {features, train, validation: {rows, positives, featuresSha256,
                                labelsSha256, source}}, "featureNames", "lineage" (the train header's)}
    $SM_OUTPUT_DATA_DIR/validation-predictions.bin  (when save_validation_predictions) validation rows x 2
                                float32 little-endian, the `probabilities` the model gives, in row order.
    Log lines `epoch=E train_loss=X validation_log_loss=Y` and `validation_auc=...` suit SageMaker metric
    definitions.

Failure: a one-paragraph reason is written to the failure file and the process exits 1 (bad data,
bad hyperparameters, or an unexpected error). Outputs are written only after everything succeeded.

Determinism: same data, hyperparameters and seed on CPU give the same weights, metrics and model.onnx bytes.
On CUDA, deterministic algorithms are requested (CUBLAS_WORKSPACE_CONFIG is set), within what the GPU allows.

Local run:
    SM_CHANNEL_TRAIN=data/train SM_CHANNEL_VALIDATION=data/validation SM_MODEL_DIR=out/model \\
    SM_OUTPUT_DATA_DIR=out/data SM_FAILURE_FILE=out/failure /usr/bin/python3 training/train.py \\
    --hyperparameters hp.json

Dependencies: python3, torch, numpy; onnx optional (for the checker).
"""

import argparse
import hashlib
import inspect
import json
import math
import os
import re
import sys
import time
import traceback
import warnings

# cuBLAS needs this before it initializes to be deterministic; harmless on CPU.
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

MATRIX_FORMAT = "mlops-matrix/v1"
MATRIX_FORMAT_V2 = "mlops-matrix/v2"
METRICS_FORMAT = "mlops-training-metrics/v1"
HEADER_FIELDS = {"format", "rows", "features", "featureNames", "dtype", "labelDtype", "byteOrder", "layout", "positives", "lineage"}
HEADER_FIELDS_V2 = HEADER_FIELDS | {"parts"}
PART_FIELDS = {"features", "labels", "rows", "positives"}
PART_FILE_NAME = re.compile(r"^[A-Za-z0-9._-]+\.bin$")
LINEAGE_FIELDS = {"model", "specHash", "transformCodeHash", "datasetSha256"}
OPSET_VERSION = 17
INPUT_NAME = "features"
PROBABILITIES_NAME = "probabilities"
LABEL_NAME = "label"
DEFAULT_HP_FILE = "/opt/ml/input/config/hyperparameters.json"
DEFAULT_FAILURE_FILE = "/opt/ml/output/failure"


class JobError(Exception):
    """A failure with a reason worth showing as is (bad data or configuration)."""


class ChannelDataError(JobError):
    pass


class HyperparameterError(JobError):
    pass


def log(message):
    print(f"[train.py] {message}", flush=True)


# ----------------------------------------------------------------------------------------- hyperparameters


def parse_bool(text):
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    raise ValueError("must be true or false")


def parse_hidden(text):
    text = text.strip()
    if text in ("", "none", "[]"):
        return []
    widths = [int(part) for part in text.strip("[]").split(",")]
    if any(w < 1 for w in widths):
        raise ValueError("widths must be positive")
    return widths


def parse_device(text):
    if text not in ("auto", "cpu", "cuda"):
        raise ValueError("must be auto, cpu or cuda")
    return text


def positive_int(text):
    value = int(text)
    if value < 1:
        raise ValueError("must be at least 1")
    return value


def non_negative_int(text):
    value = int(text)
    if value < 0:
        raise ValueError("must be 0 or more")
    return value


def finite_float(minimum=None, maximum=None, exclusive=False):
    def parse(text):
        value = float(text)
        if not math.isfinite(value):
            raise ValueError("must be finite")
        if minimum is not None and (value <= minimum if exclusive else value < minimum):
            raise ValueError(f"must be {'above' if exclusive else 'at least'} {minimum}")
        if maximum is not None and (value >= maximum if exclusive else value > maximum):
            raise ValueError(f"must be {'below' if exclusive else 'at most'} {maximum}")
        return value

    return parse


# name -> (parser of the string form, default string)
HYPERPARAMETERS = {
    "seed": (int, "42"),
    "epochs": (positive_int, "50"),
    "batch_size": (positive_int, "256"),
    "learning_rate": (finite_float(0.0, exclusive=True), "0.001"),
    "hidden": (parse_hidden, "32,16"),
    "weight_decay": (finite_float(0.0), "0.001"),
    "patience": (non_negative_int, "5"),
    "min_delta": (finite_float(0.0), "0.0"),
    "threshold": (finite_float(0.0, 1.0, exclusive=True), "0.5"),
    "validation_fraction": (finite_float(0.0, 1.0, exclusive=True), "0.2"),
    "device": (parse_device, "auto"),
    "save_validation_predictions": (parse_bool, "false"),
}


def as_text(value):
    """SageMaker passes strings; framework containers JSON-quote them. Numbers and booleans are accepted too."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        try:
            inner = json.loads(value)
            if isinstance(inner, str):
                return inner
        except json.JSONDecodeError:
            pass
    return value


def resolve_hyperparameters(from_file, from_args):
    raw = {name: default for name, (_, default) in HYPERPARAMETERS.items()}
    for source, values in (("hyperparameters file", from_file), ("arguments", from_args)):
        for key, value in values.items():
            if key.startswith("sagemaker_"):
                continue
            if key not in HYPERPARAMETERS:
                known = ", ".join(sorted(HYPERPARAMETERS))
                raise HyperparameterError(f"unknown hyperparameter {key!r} in the {source}; known: {known}")
            try:
                raw[key] = as_text(value)
            except ValueError as error:
                raise HyperparameterError(f"hyperparameter {key}: {error}") from error
    resolved = {}
    for name, (parse, _) in HYPERPARAMETERS.items():
        try:
            resolved[name] = parse(raw[name])
        except ValueError as error:
            raise HyperparameterError(f"hyperparameter {name}={raw[name]!r} is invalid: {error}") from error
    return resolved


def read_hyperparameters_file(path, explicit):
    if not os.path.exists(path):
        if explicit:
            raise HyperparameterError(f"hyperparameters file {path} does not exist")
        log(f"no hyperparameters file at {path}; using defaults")
        return {}
    try:
        with open(path, encoding="utf-8") as handle:
            values = json.load(handle)
    except (OSError, json.JSONDecodeError) as error:
        raise HyperparameterError(f"hyperparameters file {path} is not readable JSON: {error}") from error
    if not isinstance(values, dict):
        raise HyperparameterError(f"hyperparameters file {path} must hold a JSON object")
    return values


def parse_arguments(argv):
    parser = argparse.ArgumentParser(description="Train a tabular MLP and export it as ONNX (see the module docstring).")
    parser.add_argument("--hyperparameters", help="hyperparameters JSON file (overrides SM_HP_FILE)")
    for name in HYPERPARAMETERS:
        parser.add_argument(f"--{name}", dest=f"hp_{name}", default=None)
    args, unknown = parser.parse_known_args(argv)
    # SageMaker's framework containers may add `--sagemaker_* value` and `--model-dir value`: ignored.
    rest, i = [], 0
    while i < len(unknown):
        token = unknown[i]
        takes_value = token.startswith("--") and "=" not in token and i + 1 < len(unknown) and not unknown[i + 1].startswith("--")
        name = token[2:].split("=", 1)[0] if token.startswith("--") else None
        if name is None or not (name.startswith("sagemaker_") or name in ("model-dir", "model_dir")):
            rest.append(token)
        i += 2 if takes_value else 1
    if rest:
        raise HyperparameterError(f"unknown arguments: {' '.join(rest)}; hyperparameters are {', '.join(HYPERPARAMETERS)}")
    overrides = {name: getattr(args, f"hp_{name}") for name in HYPERPARAMETERS if getattr(args, f"hp_{name}") is not None}
    return args.hyperparameters, overrides


# ------------------------------------------------------------------------------------------------ channels


def read_channel(name, directory):
    """Reads and checks one channel (mlops-matrix/v1, or v2's parts concatenated in header order).

    Returns (X [N, D] float32, y [N] float32, header, info)."""

    def fail(reason):
        raise ChannelDataError(f"channel {name!r} ({directory}): {reason}")

    if not os.path.isdir(directory):
        fail("is not a directory")
    header_path = os.path.join(directory, "header.json")
    if not os.path.isfile(header_path):
        fail("has no header.json (a channel holds header.json and the data files it names)")
    try:
        with open(header_path, encoding="utf-8") as handle:
            header = json.load(handle)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        fail(f"header.json is not valid JSON: {error}")
    if not isinstance(header, dict):
        fail("header.json must hold a JSON object")
    version = header.get("format")
    if version not in (MATRIX_FORMAT, MATRIX_FORMAT_V2):
        fail(f"header.json format must be {MATRIX_FORMAT!r} or {MATRIX_FORMAT_V2!r}")
    unknown = sorted(set(header) - (HEADER_FIELDS_V2 if version == MATRIX_FORMAT_V2 else HEADER_FIELDS))
    if unknown:
        fail(f"header.json has unknown fields {unknown}")
    for field, expected in (("dtype", "float32"), ("labelDtype", "float32"), ("byteOrder", "little"), ("layout", "row-major")):
        if header.get(field) != expected:
            fail(f"header.json {field} must be {expected!r}")
    for field, minimum in (("rows", 1), ("features", 1), ("positives", 0)):
        value = header.get(field)
        if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
            fail(f"header.json {field} must be an integer >= {minimum}")
    rows, width = header["rows"], header["features"]
    names = header.get("featureNames")
    if not isinstance(names, list) or not all(isinstance(n, str) and n for n in names):
        fail("header.json featureNames must be a list of non-empty strings")
    if len(names) != width:
        fail(f"header.json has {len(names)} featureNames for {width} features")
    if len(set(names)) != len(names):
        fail("header.json featureNames has duplicate names")
    lineage = header.get("lineage", {})
    if not isinstance(lineage, dict) or set(lineage) - LINEAGE_FIELDS or not all(isinstance(v, str) for v in lineage.values()):
        fail(f"header.json lineage must be an object of strings with fields among {sorted(LINEAGE_FIELDS)}")
    parts = channel_parts(header, fail)

    for part in parts:
        for key in ("features", "labels"):
            if not os.path.isfile(os.path.join(directory, part[key])):
                fail(f"has no {part[key]} (named by header.json)")
    features_digest = hashlib.sha256()
    labels_digest = hashlib.sha256()
    xs, ys = [], []
    for part in parts:
        features_path = os.path.join(directory, part["features"])
        labels_path = os.path.join(directory, part["labels"])
        part_rows = part["rows"]
        features_size = os.path.getsize(features_path)
        if features_size != part_rows * width * 4:
            fail(f"{part['features']} is {features_size} bytes; {part_rows} rows x {width} float32 features need {part_rows * width * 4} (header rows/features do not match the data)")
        labels_size = os.path.getsize(labels_path)
        if labels_size != part_rows * 4:
            fail(f"{part['labels']} is {labels_size} bytes; {part_rows} float32 labels need {part_rows * 4} (header rows does not match the data)")
        X = np.fromfile(features_path, dtype="<f4").astype(np.float32, copy=False).reshape(part_rows, width)
        y = np.fromfile(labels_path, dtype="<f4").astype(np.float32, copy=False)
        finite = np.isfinite(X)
        if not finite.all():
            row, col = (int(i) for i in np.argwhere(~finite)[0])
            kind = "NaN" if math.isnan(float(X[row, col])) else "infinite"
            fail(f"{part['features']} row {row}, column {col} ({names[col]}) is {kind}; every value must be finite")
        bad = np.flatnonzero((y != 0) & (y != 1))
        if bad.size:
            fail(f"{part['labels']} row {int(bad[0])} is not 0 or 1")
        positives = int(y.sum())
        if positives != part["positives"]:
            where = "header.json positives" if version == MATRIX_FORMAT else f"header.json parts positives of {part['labels']}"
            fail(f"{where} is {part['positives']} but {part['labels']} holds {positives} positive labels")
        update_digest(features_digest, features_path)
        update_digest(labels_digest, labels_path)
        xs.append(X)
        ys.append(y)
    X = xs[0] if len(xs) == 1 else np.concatenate(xs, axis=0)
    y = ys[0] if len(ys) == 1 else np.concatenate(ys, axis=0)
    info = {
        "rows": rows,
        "positives": int(y.sum()),
        "featuresSha256": features_digest.hexdigest(),
        "labelsSha256": labels_digest.hexdigest(),
        "source": "channel",
    }
    return X, y, header, info


def channel_parts(header, fail):
    """The channel's data files in row order: v1's features.bin/labels.bin, or v2's checked `parts`."""
    if header["format"] == MATRIX_FORMAT:
        return [{"features": "features.bin", "labels": "labels.bin", "rows": header["rows"], "positives": header["positives"]}]
    parts = header.get("parts")
    if not isinstance(parts, list) or not parts:
        fail("header.json parts must be a non-empty list")
    seen = set()
    for i, part in enumerate(parts):
        if not isinstance(part, dict) or set(part) != PART_FIELDS:
            fail(f"header.json parts[{i}] must be an object with exactly the fields {sorted(PART_FIELDS)}")
        for key in ("features", "labels"):
            file_name = part[key]
            if not isinstance(file_name, str) or not PART_FILE_NAME.match(file_name):
                fail(f"header.json parts[{i}].{key} must be a plain .bin file name in the channel directory")
            if file_name in seen:
                fail(f"header.json parts name {file_name} twice")
            seen.add(file_name)
        for key, minimum in (("rows", 1), ("positives", 0)):
            value = part[key]
            if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
                fail(f"header.json parts[{i}].{key} must be an integer >= {minimum}")
        if part["positives"] > part["rows"]:
            fail(f"header.json parts[{i}].positives is more than its rows")
    if sum(p["rows"] for p in parts) != header["rows"]:
        fail(f"header.json rows is {header['rows']} but the parts hold {sum(p['rows'] for p in parts)} rows")
    if sum(p["positives"] for p in parts) != header["positives"]:
        fail(f"header.json positives is {header['positives']} but the parts hold {sum(p['positives'] for p in parts)}")
    return parts


def update_digest(digest, path):
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)


def stratified_split(y, fraction, seed):
    """Seeded stratified holdout of row indices (used only without a validation channel)."""
    rng = np.random.default_rng(seed)
    train, holdout = [], []
    for cls in (0, 1):
        idx = np.flatnonzero(y == cls)
        rng.shuffle(idx)
        k = int(round(len(idx) * fraction))
        holdout.append(idx[:k])
        train.append(idx[k:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(holdout))


# ----------------------------------------------------------------------------------------------- the model


class TabularMLP(nn.Module):
    """Dense ReLU layers ending in one logit (logistic regression without hidden layers)."""

    def __init__(self, inputs, hidden):
        super().__init__()
        widths = [inputs, *hidden, 1]
        layers = []
        for i in range(len(widths) - 1):
            linear = nn.Linear(widths[i], widths[i + 1])
            relu = i + 2 < len(widths)
            # He initialization for ReLU layers, LeCun for the output; zero biases (as the TS trainer).
            nn.init.normal_(linear.weight, 0.0, math.sqrt((2.0 if relu else 1.0) / widths[i]))
            nn.init.zeros_(linear.bias)
            layers.append(linear)
            if relu:
                layers.append(nn.ReLU())
        self.layers = nn.Sequential(*layers)

    def forward(self, features):
        return self.layers(features)


class ServingModel(nn.Module):
    """The serving signature around a trained network: probabilities [P(neg), P(pos)] and the int64 label."""

    def __init__(self, net, threshold):
        super().__init__()
        self.net = net
        self.threshold = float(threshold)

    def forward(self, features):
        p_pos = torch.sigmoid(self.net(features))
        probabilities = torch.cat([1.0 - p_pos, p_pos], dim=1)
        label = (p_pos >= self.threshold).to(torch.int64).reshape(-1)
        return probabilities, label


# ------------------------------------------------------------------------------------------------- metrics


def roc_auc(scores, labels):
    """Rank-sum (Mann-Whitney) AUC with ties given their average rank; None for a single class."""
    scores = np.asarray(scores, dtype=np.float64)
    labels = np.asarray(labels)
    positives = int((labels == 1).sum())
    negatives = len(labels) - positives
    if positives == 0 or negatives == 0:
        return None
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ends = np.cumsum(counts)
    average_rank = (ends - counts + 1 + ends) / 2.0
    rank_sum = float(average_rank[inverse][labels == 1].sum())
    return (rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives)


def classifier_metrics(scores, labels, threshold):
    """The definitions of src/core/training/metrics.ts (classifierMetrics), in float64."""
    p = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    n = len(p)
    if n == 0:
        raise ValueError("no rows to evaluate")
    clipped = np.clip(p, 1e-15, 1 - 1e-15)
    return {
        "auc": roc_auc(p, y),
        "accuracy": float(((p >= threshold).astype(np.float64) == y).sum() / n),
        "logLoss": float(-(y * np.log(clipped) + (1 - y) * np.log(1 - clipped)).sum() / n),
        "brier": float(((p - y) ** 2).sum() / n),
        "rows": n,
        "positiveRate": float(y.sum() / n),
    }


def log_loss(scores, labels):
    return classifier_metrics(scores, labels, 0.5)["logLoss"]


# ------------------------------------------------------------------------------------------------ training


def pick_device(choice):
    if choice == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if choice == "cuda":
        raise HyperparameterError("device=cuda was asked for but torch.cuda.is_available() is false")
    return torch.device("cpu")


def predict_positive(net, X, device, chunk=65536):
    """P(positive) for every row, float32, computed on `device` in eval mode."""
    net.eval()
    out = []
    with torch.no_grad():
        for start in range(0, X.shape[0], chunk):
            out.append(torch.sigmoid(net(X[start : start + chunk])).reshape(-1).to("cpu"))
    return torch.cat(out).numpy()


CHECKPOINT_FILE = "checkpoint.pt"


def checkpoint_dir():
    explicit = os.environ.get("SM_CHECKPOINT_DIR")
    if explicit:
        os.makedirs(explicit, exist_ok=True)
        return explicit
    return "/opt/ml/checkpoints" if os.path.isdir("/opt/ml/checkpoints") else None


def save_checkpoint(directory, fingerprint, epoch, net, optimizer, shuffler, best, history):
    state = {
        "fingerprint": fingerprint,
        "epoch": epoch,
        "net": {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()},
        "optimizer": optimizer.state_dict(),
        "shuffler": shuffler.get_state(),
        "best": best,
        "history": history,
    }
    tmp = os.path.join(directory, CHECKPOINT_FILE + ".tmp")
    torch.save(state, tmp)
    os.replace(tmp, os.path.join(directory, CHECKPOINT_FILE))  # never a half-written checkpoint


def load_checkpoint(directory, fingerprint):
    path = os.path.join(directory, CHECKPOINT_FILE) if directory else None
    if not path or not os.path.exists(path):
        return None
    state = torch.load(path, map_location="cpu")
    if state.get("fingerprint") != fingerprint:
        log("checkpoint ignored: it belongs to other data or hyperparameters")
        return None
    return state


def train(X, y, Xv, yv, hp, device, checkpoints=None, data_sha256=""):
    torch.manual_seed(hp["seed"])
    net = TabularMLP(X.shape[1], hp["hidden"])  # initialized on CPU, so the same for every device
    net.to(device)
    weights = [p for n, p in net.named_parameters() if n.endswith("weight")]
    biases = [p for n, p in net.named_parameters() if n.endswith("bias")]
    adam_options = {}
    if device.type == "cuda" and "fused" in inspect.signature(torch.optim.Adam).parameters:
        adam_options["fused"] = True  # one kernel per step instead of several per parameter
    optimizer = torch.optim.Adam(
        [{"params": weights, "weight_decay": hp["weight_decay"]}, {"params": biases, "weight_decay": 0.0}],
        lr=hp["learning_rate"],
        **adam_options,
    )
    loss_fn = nn.BCEWithLogitsLoss()
    X_dev = torch.from_numpy(X).to(device)
    y_dev = torch.from_numpy(y).to(device)
    Xv_dev = torch.from_numpy(Xv).to(device)
    shuffler = torch.Generator().manual_seed(hp["seed"])
    rows = X.shape[0]
    batch = min(hp["batch_size"], rows)

    best = {"loss": math.inf, "epoch": 0, "state": None}
    history = []
    stopped_early = False
    # A checkpoint resumes only the same training: same data, same hyperparameters (the epoch budget may grow).
    fingerprint = json.dumps({"data": data_sha256, "hp": {k: v for k, v in hp.items() if k != "epochs"}}, sort_keys=True, default=str)
    first_epoch = 1
    resumed = load_checkpoint(checkpoints, fingerprint)
    if resumed:
        net.load_state_dict(resumed["net"])
        optimizer.load_state_dict(resumed["optimizer"])
        shuffler.set_state(resumed["shuffler"])
        best, history = resumed["best"], resumed["history"]
        first_epoch = resumed["epoch"] + 1
        log(f"resumed from checkpoint at epoch {resumed['epoch']}")
    for epoch in range(first_epoch, hp["epochs"] + 1):
        net.train()
        order = torch.randperm(rows, generator=shuffler).to(device)
        # One gather per epoch; each batch is then a contiguous slice (the same batches as indexing per step).
        X_epoch, y_epoch = X_dev[order], y_dev[order]
        losses = []
        for start in range(0, rows, batch):
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(X_epoch[start : start + batch]).reshape(-1), y_epoch[start : start + batch])
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        sizes = torch.tensor([min(batch, rows - s) for s in range(0, rows, batch)], dtype=torch.float64, device=device)
        train_loss = float((torch.stack(losses).to(torch.float64) * sizes).sum().item()) / rows
        val_loss = log_loss(predict_positive(net, Xv_dev, device), yv)
        history.append({"epoch": epoch, "trainLoss": train_loss, "validationLogLoss": val_loss})
        log(f"epoch={epoch} train_loss={train_loss:.6f} validation_log_loss={val_loss:.6f}")
        if val_loss < best["loss"] - hp["min_delta"]:
            best = {"loss": val_loss, "epoch": epoch, "state": {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}}
        elif hp["patience"] > 0 and epoch - best["epoch"] >= hp["patience"]:
            stopped_early = True
            log(f"early stop: no better validation log loss for {hp['patience']} epochs; keeping epoch {best['epoch']}")
            break
        if checkpoints:
            save_checkpoint(checkpoints, fingerprint, epoch, net, optimizer, shuffler, best, history)
    if best["state"] is None:  # validation loss never finite; keep the last weights
        best = {"loss": math.nan, "epoch": len(history), "state": {k: v.detach().to("cpu").clone() for k, v in net.state_dict().items()}}
    net = net.to("cpu")
    net.load_state_dict(best["state"])
    net.eval()
    return net, {"epochsRun": len(history), "bestEpoch": best["epoch"], "stoppedEarly": stopped_early, "history": history}


# --------------------------------------------------------------------------------------------------- ONNX


def export_onnx(serving, width, path):
    """Exports on CPU in eval mode; returns (onnx version or None, whether onnx.checker ran)."""
    serving.eval()
    example = torch.zeros(2, width, dtype=torch.float32)
    options = dict(
        input_names=[INPUT_NAME],
        output_names=[PROBABILITIES_NAME, LABEL_NAME],
        dynamic_axes={INPUT_NAME: {0: "batch"}, PROBABILITIES_NAME: {0: "batch"}, LABEL_NAME: {0: "batch"}},
        opset_version=OPSET_VERSION,
        do_constant_folding=True,
        export_params=True,
    )
    # torch >= 2.9 defaults to the dynamo exporter; the TorchScript one gives the same graph on every version.
    if "dynamo" in inspect.signature(torch.onnx.export).parameters:
        options["dynamo"] = False
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
        torch.onnx.export(serving, (example,), path, **options)
    try:
        import onnx
    except ImportError:
        log("WARNING: the onnx package is not importable; model.onnx was exported by torch.onnx but not checked with onnx.checker")
        return None, False
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    verify_signature(model, width, onnx)
    return onnx.__version__, True


def verify_signature(model, width, onnx):
    graph = model.graph

    def describe(value):
        tensor = value.type.tensor_type
        dims = [d.dim_param if d.HasField("dim_param") else d.dim_value for d in tensor.shape.dim]
        return tensor.elem_type, dims

    inputs = {v.name: describe(v) for v in graph.input}
    outputs = {v.name: describe(v) for v in graph.output}
    float_t, int64_t = onnx.TensorProto.FLOAT, onnx.TensorProto.INT64
    problems = []
    if list(inputs) != [INPUT_NAME]:
        problems.append(f"inputs are {list(inputs)}, not [{INPUT_NAME!r}]")
    elif not (inputs[INPUT_NAME][0] == float_t and len(inputs[INPUT_NAME][1]) == 2 and isinstance(inputs[INPUT_NAME][1][0], str) and inputs[INPUT_NAME][1][1] == width):
        problems.append(f"input {INPUT_NAME} is {inputs[INPUT_NAME]}, not float32 [batch, {width}]")
    if list(outputs) != [PROBABILITIES_NAME, LABEL_NAME]:
        problems.append(f"outputs are {list(outputs)}, not [{PROBABILITIES_NAME!r}, {LABEL_NAME!r}]")
    else:
        if outputs[PROBABILITIES_NAME][0] != float_t or len(outputs[PROBABILITIES_NAME][1]) != 2 or outputs[PROBABILITIES_NAME][1][1] != 2:
            problems.append(f"output {PROBABILITIES_NAME} is {outputs[PROBABILITIES_NAME]}, not float32 [batch, 2]")
        if outputs[LABEL_NAME][0] != int64_t or len(outputs[LABEL_NAME][1]) != 1:
            problems.append(f"output {LABEL_NAME} is {outputs[LABEL_NAME]}, not int64 [batch]")
    if problems:
        raise RuntimeError("exported model does not have the serving signature: " + "; ".join(problems))


# ---------------------------------------------------------------------------------------------------- main


def write_atomically(path, data):
    tmp = f"{path}.tmp"
    with open(tmp, "wb") as handle:
        handle.write(data)
    os.replace(tmp, path)


def run(argv):
    started = time.perf_counter()
    hp_path_arg, hp_overrides = parse_arguments(argv)
    hp_path = hp_path_arg or os.environ.get("SM_HP_FILE") or DEFAULT_HP_FILE
    hp = resolve_hyperparameters(read_hyperparameters_file(hp_path, explicit=bool(hp_path_arg or os.environ.get("SM_HP_FILE"))), hp_overrides)

    train_dir = os.environ.get("SM_CHANNEL_TRAIN")
    if not train_dir:
        raise ChannelDataError("SM_CHANNEL_TRAIN is not set: the job needs a 'train' channel")
    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    output_dir = os.environ.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data")

    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.backends.cudnn.benchmark = False
    device = pick_device(hp["device"])
    log(f"device={device.type}{' (' + torch.cuda.get_device_name(device) + ')' if device.type == 'cuda' else ''} torch={torch.__version__} threads={torch.get_num_threads()}")
    log("hyperparameters " + json.dumps(hp, sort_keys=True))

    load_started = time.perf_counter()
    X, y, header, train_info = read_channel("train", train_dir)
    validation_dir = os.environ.get("SM_CHANNEL_VALIDATION")
    if validation_dir:
        Xv, yv, vheader, validation_info = read_channel("validation", validation_dir)
        if vheader["featureNames"] != header["featureNames"]:
            raise ChannelDataError("channels 'train' and 'validation' have different featureNames; both must come from the same fitted transforms")
        for key in ("specHash", "transformCodeHash"):
            a, b = header.get("lineage", {}).get(key), vheader.get("lineage", {}).get(key)
            if a and b and a != b:
                raise ChannelDataError(f"channels 'train' and 'validation' differ in lineage.{key}")
    else:
        train_idx, holdout_idx = stratified_split(y, hp["validation_fraction"], hp["seed"])
        if holdout_idx.size == 0 or train_idx.size == 0:
            raise ChannelDataError("channel 'train' is too small to hold out a validation split; add a 'validation' channel")
        log(f"no validation channel: holding out {holdout_idx.size} of {y.size} train rows (stratified, seed {hp['seed']})")
        Xv, yv = X[holdout_idx], y[holdout_idx]
        X, y = X[train_idx], y[train_idx]
        validation_info = {"rows": int(yv.size), "positives": int(yv.sum()), "source": f"split of train (validation_fraction {hp['validation_fraction']})"}
        train_info = {**train_info, "rows": int(y.size), "positives": int(y.sum())}
    if y.min() == y.max():
        raise ChannelDataError("channel 'train' holds a single class; both classes are needed to train")
    log(f"train rows={y.size} positives={int(y.sum())} validation rows={yv.size} features={X.shape[1]}")

    load_seconds = time.perf_counter() - load_started
    train_started = time.perf_counter()
    data_sha256 = f"{train_info.get('featuresSha256', '')}:{train_info.get('labelsSha256', '')}"
    net, run_info = train(X, y, Xv, yv, hp, device, checkpoint_dir(), data_sha256)
    train_seconds = time.perf_counter() - train_started

    serving = ServingModel(net, hp["threshold"]).eval()
    with torch.no_grad():
        probabilities, _ = serving(torch.from_numpy(Xv))
    probabilities = probabilities.numpy().astype("<f4", copy=False)
    metrics = classifier_metrics(probabilities[:, 1], yv, hp["threshold"])
    log(" ".join(f"validation_{k}={v}" for k, v in metrics.items()))

    export_started = time.perf_counter()
    os.makedirs(model_dir, exist_ok=True)
    model_path = os.path.join(model_dir, "model.onnx")
    staging = os.path.join(model_dir, ".model.onnx.staging")
    onnx_version, onnx_checked = export_onnx(serving, X.shape[1], staging)
    os.replace(staging, model_path)
    export_seconds = time.perf_counter() - export_started

    if hp["save_validation_predictions"]:
        os.makedirs(output_dir, exist_ok=True)
        write_atomically(os.path.join(output_dir, "validation-predictions.bin"), np.ascontiguousarray(probabilities).tobytes())

    report = {
        "format": METRICS_FORMAT,
        "validation": metrics,
        **{k: v for k, v in run_info.items() if k != "history"},
        "device": device.type,
        "deviceName": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "torchVersion": torch.__version__,
        "onnxVersion": onnx_version,
        "onnxChecked": onnx_checked,
        "opsetVersion": OPSET_VERSION,
        "seconds": {
            "load": round(load_seconds, 3),
            "train": round(train_seconds, 3),
            "export": round(export_seconds, 3),
            "total": round(time.perf_counter() - started, 3),
        },
        "hyperparameters": hp,
        "data": {"features": int(X.shape[1]), "train": train_info, "validation": validation_info},
        "featureNames": header["featureNames"],
        "lineage": header.get("lineage", {}),
        "history": run_info["history"],
    }
    write_atomically(os.path.join(model_dir, "metrics.json"), (json.dumps(report, indent=2) + "\n").encode("utf-8"))
    log(f"wrote {model_path} and metrics.json in {report['seconds']['total']} s")


def write_failure(reason):
    path = os.environ.get("SM_FAILURE_FILE", DEFAULT_FAILURE_FILE)
    try:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(reason[:4096] + "\n")
    except OSError as error:
        log(f"could not write the failure file {path}: {error}")


def main(argv=None):
    try:
        run(sys.argv[1:] if argv is None else argv)
    except JobError as error:
        reason = f"{type(error).__name__}: {error}"
        log(f"FAILED {reason}")
        write_failure(reason)
        return 1
    except Exception as error:  # an unexpected failure: the reason plus where it happened
        trace = traceback.format_exc()
        print(trace, file=sys.stderr, flush=True)
        write_failure(f"{type(error).__name__}: {error}\n{trace}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
