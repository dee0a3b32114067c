"""Batch-scoring peer: pandas reads the CSV, an sklearn pipeline of the same kind scores it, pandas writes it.

The model (StandardScaler / log1p + one-hot + L2 logistic regression, like the project's `lr` model with the
same transforms) is fitted on the first `train_rows` rows beforehand; only read + score + write is timed, the
same work the project's batch path does. Prints one JSON object.
"""
import json
import resource
import sys
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

path, out_path, train_rows = sys.argv[1], sys.argv[2], int(sys.argv[3])
numeric = [f"x{i:02d}" for i in range(1, 15)]
logged = [c for i, c in enumerate(numeric) if i % 5 == 0]
plain = [c for c in numeric if c not in logged]
categorical = ["region", "channel", "product", "segment"]
boolean = ["flag_a", "flag_b"]

train = pd.read_csv(path, nrows=train_rows)
pre = ColumnTransformer([
    ("log", Pipeline([("log1p", FunctionTransformer(np.log1p)), ("scale", StandardScaler())]), logged),
    ("num", StandardScaler(), plain),
    ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ("bool", "passthrough", boolean),
])
model = Pipeline([("pre", pre), ("lr", LogisticRegression(C=1.0, max_iter=200))])
model.fit(train.drop(columns=["y"]).astype({b: float for b in boolean}), train["y"])

started = time.perf_counter()
cpu_started = time.process_time()
df = pd.read_csv(path)
scores = model.predict_proba(df.drop(columns=["y"]).astype({b: float for b in boolean}))[:, 1]
df["prediction"] = (scores >= 0.5).astype(int)
df["score"] = scores
df.to_csv(out_path, index=False)
seconds = time.perf_counter() - started
cpu_seconds = time.process_time() - cpu_started
print(json.dumps({
    "cpuSeconds": cpu_seconds,
    "rows": len(df),
    "seconds": seconds,
    "rowsPerSecond": len(df) / seconds,
    "peakRssMb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
}))
