"""A warm environment for a rendered project, in well under a second (tests and benchmarks).

`make repro` in a new project would install requirements.lock into its own .venv (minutes).
The new project pins exactly what this repository pins, so instead make a venv without pip
whose site-packages reuses an existing venv's packages and adds the project's src/, and mark
it installed for the Makefile. The existing venv is only read, never installed into (the new
project's `make env` would pip-sync it, removing this repository's own package).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path


def make_warm_venv(project: Path, venv: Path, base_site_packages: str | None = None) -> Path:
    base = base_site_packages or sysconfig.get_paths()["purelib"]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    # addsitedir also runs the base's own .pth files (editable installs, namespace packages)
    (site / "_warm.pth").write_text(f"import site; site.addsitedir({base!r})\n{project / 'src'}\n")
    scripts = {"dvc": "dvc.cli:main", "pytest": "pytest:console_main", "cruft": "cruft._cli:app",
               "ray": "ray.scripts.scripts:main"}  # `ray start` in the two-node cluster test
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    scripts.update(pyproject["project"].get("scripts", {}))  # the project's own command
    for name, target in scripts.items():
        module, func = target.split(":")
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        script.chmod(0o755)
    # The Makefile rebuilds .venv when its stamp is older than requirements.lock or pyproject.toml.
    (venv / ".installed-from-lock").touch()
    return venv
