"""The running environment: what a run record captures, and how it compares with the lock."""

from __future__ import annotations

import os
import platform
import re
import sys
from importlib import metadata
from pathlib import Path

from reprostack.core.errors import ReprostackError
from reprostack.data.hashing import sha256_file

LOCK_FILE = "requirements.lock"
# The packages whose versions change numbers: recorded by name in every run record.
KEY_PACKAGES = ("torch", "sentence-transformers", "transformers", "lancedb", "scikit-learn", "numpy", "dvc")
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TOKENIZERS_PARALLELISM")
_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")
# CPU flags that pick the float kernels torch/BLAS use, so they explain last-bit differences.
_VECTOR_FLAG = re.compile(r"^(sse\d.*|ssse3|avx.*|fma.?|f16c|amx.*|asimd.*|neon|sve.*|vnni.*)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def cpu(cpuinfo: str | Path = "/proc/cpuinfo") -> dict:
    """CPU model and its vector-instruction flags (x86 `flags`, ARM `Features`)."""
    model, flags = platform.processor() or None, set()
    try:
        text = Path(cpuinfo).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("model name", "cpu model", "hardware") and value.strip():
            model = value.strip()
        elif key in ("flags", "features"):
            flags.update(flag for flag in value.split() if _VECTOR_FLAG.match(flag))
    return {"model": model, "vector_flags": sorted(flags)}


def _torch_build(show: str) -> dict:
    """The parts of `torch.__config__.show()` that pick float kernels: BLAS, MKL, oneDNN, and the
    CPU capability torch dispatches to (AVX2, AVX512, ...)."""
    found = {}
    for key, pattern in (
        ("blas", r"BLAS_INFO=([^,\s]+)"),
        ("lapack", r"LAPACK_INFO=([^,\s]+)"),
        ("mkl", r"Math Kernel Library Version ([^\s]+)"),
        ("onednn", r"MKL-DNN (v[^\s]+)"),
        ("openmp", r"OpenMP (\d+)"),
    ):
        match = re.search(pattern, show)
        found[key] = match.group(1) if match else None
    return found


def compute(threads: int | None = None, loaded_only: bool = False, backend: str = "torch") -> dict | None:
    """What a forward pass's bits depend on beyond the CPU flags: on torch, torch's version and
    build (BLAS, MKL, oneDNN), the CPU capability it dispatches to, and the intra-op thread count
    the embedding runs with (params `threads`, else torch's default); None without torch.
    loaded_only: None unless this process has already imported torch (never pay for the import).
    On an exported backend (onnx, openvino) the passes run on that runtime, not torch: its
    version and the threads, without importing torch (the export's own digest is in the engine's
    record)."""
    if backend != "torch":
        from reprostack.model.backends import runtime_version

        return {"backend": backend, "runtime": runtime_version(backend), "threads": threads}
    if loaded_only and "torch" not in sys.modules:
        return None
    try:
        import torch
    except ImportError:
        return None
    return {
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn_enabled": bool(torch.backends.mkldnn.is_available()),
        **_torch_build(torch.__config__.show()),
        "threads": threads or torch.get_num_threads(),
    }


def capture(
    root: str | Path = ".", threads: int | None = None, compute_info: dict | None = None, backend: str = "torch"
) -> dict:
    """compute_info: what compute() returned in the process that embedded (the embed stage's
    stamp), so the record stage need not import torch (1-3 s) to ask again; None: ask here,
    for the embedding `backend`."""
    lock = Path(root) / LOCK_FILE
    return {
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "cpu": cpu(),
        "threads": {"configured": threads, **{var: os.environ.get(var) for var in THREAD_VARS}},
        "requirements_lock_sha256": sha256_file(lock) if lock.is_file() else None,
        "packages": {name: installed_version(name) for name in KEY_PACKAGES},
        "compute": compute_info or compute(threads, backend=backend),
    }


def read_lock(path: str | Path = LOCK_FILE) -> dict[str, str]:
    """{normalized name: version} for every `name==version` line of a pip-compile lock."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ReprostackError(f"{path} does not exist; regenerate it with `make lock`") from None
    pins = {}
    for line in text.splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[normalize(match.group(1))] = match.group(2)
    if not pins:
        raise ReprostackError(f"{path} pins no packages (expected lines like `name==1.2.3`)")
    return pins


def differences(recorded: dict, current: dict) -> list[str]:
    """What differs between two captured environments, one line each (CPU, flags, packages)."""
    lines = []
    for key in ("python", "platform", "cpu_count"):
        if recorded.get(key) != current.get(key):
            lines.append(f"{key}: {recorded.get(key)} -> {current.get(key)}")
    old_cpu, new_cpu = recorded.get("cpu") or {}, current.get("cpu") or {}
    if old_cpu.get("model") != new_cpu.get("model"):
        lines.append(f"cpu model: {old_cpu.get('model') or 'not recorded'} -> {new_cpu.get('model')}")
    if old_cpu and set(old_cpu.get("vector_flags", [])) != set(new_cpu.get("vector_flags", [])):
        gone = sorted(set(old_cpu.get("vector_flags", [])) - set(new_cpu.get("vector_flags", [])))
        added = sorted(set(new_cpu.get("vector_flags", [])) - set(old_cpu.get("vector_flags", [])))
        lines.append(f"cpu vector flags: lost {' '.join(gone) or 'none'}, gained {' '.join(added) or 'none'}")
    old_compute, new_compute = recorded.get("compute") or {}, current.get("compute") or {}
    for key in sorted(set(old_compute) & set(new_compute)):  # records before `compute` have none
        if old_compute[key] != new_compute[key] and key != "torch":  # torch: under packages
            label = key if key in ("threads", "backend", "runtime") else f"torch {key}"
            lines.append(f"{label}: {old_compute[key]} -> {new_compute[key]}")
    old_pkgs, new_pkgs = recorded.get("packages") or {}, current.get("packages") or {}
    for name in sorted(set(old_pkgs) | set(new_pkgs)):
        if old_pkgs.get(name) != new_pkgs.get(name):
            lines.append(f"{name}: {old_pkgs.get(name)} -> {new_pkgs.get(name)}")
    if recorded.get("requirements_lock_sha256") != current.get("requirements_lock_sha256"):
        lines.append("requirements.lock: different file")
    return lines


# What the bits of a forward pass depend on: a difference here explains last-bit differences.
BITS = ("cpu model", "cpu vector flags", "torch", "threads", "cpu_count", "numpy", "backend", "runtime")


def bits_differences(lines: list[str]) -> list[str]:
    """The lines of `differences` about what the bits depend on, shortened: 'cpu vector flags:
    lost avx512f, gained amx_tile' -> 'cpu vector flags (lost avx512f, gained amx_tile)'."""
    return [
        f"{key} ({rest.strip()})" for key, _, rest in (line.partition(":") for line in lines) if key.startswith(BITS)
    ]


def compare_to_lock(path: str | Path = LOCK_FILE) -> list[str]:
    """One line per locked package that is missing or installed at another version."""
    problems = []
    for name, wanted in sorted(read_lock(path).items()):
        found = installed_version(name)
        if found is None:
            problems.append(f"{name}: not installed (lock pins {wanted})")
        elif found != wanted:
            problems.append(f"{name}: installed {found}, lock pins {wanted}")
    return problems
