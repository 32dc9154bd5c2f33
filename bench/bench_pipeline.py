"""Issue 14: the whole pipeline against the script a user would otherwise write.

A labelled CSV of N short texts (REPROSTACK_BENCH_PIPELINE_TEXTS, default 2,000: the project's
rows plus generated ones, as in bench_vectors) in a scratch project: `dvc repro` from scratch
(compose, snapshot, embed, train, evaluate, record: a process each) against SCRIPT below, ~30
lines that read the CSV, encode, fit the same classifier on the same split and print accuracy
(the project's settings written at its top, as a user would: columns, model, classifier, split).
Identical accuracy expected; target: the pipeline at most 1.1x the script's wall time.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time

from bench_vectors import make_texts
from common import REPO, VENV_BIN, project_params, scratch_project, sh, write_rows

N_TEXTS = int(os.environ.get("REPROSTACK_BENCH_PIPELINE_TEXTS", 2_000))

SETTINGS = """
ID, TEXT, LABEL = {data.id_column!r}, {data.text_column!r}, {data.label_column!r}
SEED, TEST_SIZE, MODEL_PATH = {seed!r}, {data.test_size!r}, {model_path!r}
from {module} import {cls} as Classifier
OPTIONS = {options!r}
"""

SCRIPT = """
import csv, hashlib, os, sys
os.environ.setdefault("HF_HUB_OFFLINE", "1")
import numpy as np
import torch
from sentence_transformers import SentenceTransformer

torch.manual_seed(SEED)
torch.set_num_threads(2)
with open(sys.argv[1], encoding="utf-8", newline="") as handle:
    rows = list(csv.DictReader(handle))


def is_test(row_id):  # the pipeline's split: a hash of the id, TEST_SIZE of the rows
    bucket = int.from_bytes(hashlib.sha256(f"{SEED}:{row_id}".encode()).digest()[:8], "big")
    return bucket / 2**64 < TEST_SIZE


model = SentenceTransformer(MODEL_PATH, device="cpu")
X = model.encode([r[TEXT] for r in rows], batch_size=64, normalize_embeddings=True)
y = np.array([r[LABEL] for r in rows])
test = np.array([is_test(r[ID]) for r in rows])
clf = Classifier(**OPTIONS).fit(X[~test], y[~test])
print(f"accuracy {np.mean(clf.predict(X[test]) == y[test]):.6f}")
"""


def script(project) -> str:
    """SCRIPT with the project's settings at its top."""
    from reprostack.model import embedding

    params = project_params(project)
    module, _, cls = params.model.target.rpartition(".")
    model_path = str(embedding.resolve(params.embedding.model, project, params.embedding.revision).path)
    return (
        SETTINGS.format(
            data=params.data,
            seed=params.seed,
            model_path=model_path,
            module=module,
            cls=cls,
            options=params.model.options,
        )
        + SCRIPT
    )


def run():
    project = scratch_project()
    try:
        data = write_rows(project, *make_texts(N_TEXTS))
        (project / "script.py").write_text(script(project))
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
        yield (
            f"script: {best['script']:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['script'])}), accuracy "
            f"{script_accuracy:.6f}"
        )
        yield (
            f"dvc repro from scratch: {best['pipeline']:.1f} s (runs {', '.join(f'{t:.1f}' for t in times['pipeline'])}), "
            f"accuracy {metrics.get('accuracy'):.6f}; {'identical' if abs(metrics.get('accuracy') - script_accuracy) < 1e-9 else 'DIFFERENT'} accuracy"
        )
        yield f"pipeline / script: {ratio:.2f}x (target <= 1.1) {'PASS' if ratio <= 1.1 else 'FAIL'}; load {os.getloadavg()[0]:.1f}"
        for stage_file in sorted((project / "runs" / "stages").glob("*.json")):
            stamp = json.loads(stage_file.read_text())
            seconds = stamp.get("seconds")
            if seconds is not None:
                yield f"  stage {stage_file.stem}: {seconds:.2f} s inside the process"
    finally:
        subprocess.run(["chmod", "-R", "u+w", str(project.parent)], check=False)
        shutil.rmtree(project.parent, ignore_errors=True)
