"""A warm environment for a rendered project, in well under a second (tests and benchmarks).

`make repro` in a new project would install requirements.lock into its own .venv (minutes).
The new project pins a subset of what this repository pins, so instead make a venv without pip
whose site-packages reuses an existing venv's packages, puts the library source under test
(`library_src`, this checkout's src/) before them, so `reprostack` is that source and not
whatever the base venv has installed, and adds the project's src/; and mark it installed for
the Makefile. The existing venv is only read, never installed into (the new
project's `make env` would pip-sync it, removing this repository's own package).
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

LIBRARY_SRC = Path(__file__).resolve().parents[1] / "src"


def make_warm_venv(
    project: Path, venv: Path, base_site_packages: str | None = None, library_src: Path = LIBRARY_SRC
) -> Path:
    base = base_site_packages or sysconfig.get_paths()["purelib"]
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})["purelib"])
    site.mkdir(parents=True, exist_ok=True)
    # addsitedir also runs the base's own .pth files (editable installs, namespace packages)
    # .pth lines are applied in order: the library source first, so it wins over the base's own
    # (editable) reprostack
    (site / "_warm.pth").write_text(f"{library_src}\nimport site; site.addsitedir({base!r})\n{project / 'src'}\n")
    scripts = {
        "dvc": "dvc.cli:main",
        "pytest": "pytest:console_main",
        "cruft": "cruft._cli:app",
        "reprostack": "reprostack.cli:main",
    }
    pyproject = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    scripts.update(pyproject["project"].get("scripts", {}))  # a command the project adds
    for name, target in scripts.items():
        module, func = target.split(":")
        script = venv / "bin" / name
        script.write_text(f"#!{venv / 'bin' / 'python'}\nimport sys\nfrom {module} import {func}\nsys.exit({func}())\n")
        script.chmod(0o755)
    # The Makefile rebuilds .venv when its stamp is older than requirements.lock or pyproject.toml.
    (venv / ".installed-from-lock").touch()
    return venv
