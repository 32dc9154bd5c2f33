"""Stage compose: keep params.yaml equal to the Hydra composition of conf/.

Under `dvc exp run`, DVC has just composed params.yaml itself with the -S overrides (and
`runs reproduce` has restored a run's params), so it is validated and left alone. Under plain `dvc repro` it is rewritten from conf/, and any value that
changes is printed, so params.yaml cannot silently drift from conf/.
"""

from __future__ import annotations

import sys
from pathlib import Path

from reprostack import config, jsonio
from reprostack.stages._runner import run


def main() -> None:
    params_path = Path(config.PARAMS_FILE)
    if config.params_given_by_caller():
        config.load_params(params_path)
        return
    composed = config.compose(config.CONF_DIR)
    config.validate(composed, source="conf/ (composed)")
    if params_path.exists():
        previous = config.read_params_file(params_path)
        for key, (old, new) in config.diff(previous, composed).items():
            print(f"params.yaml: {key}: {old!r} -> {new!r} (from conf/)", file=sys.stderr)
    jsonio.atomic_write_text(params_path, config.dump_params(composed))


if __name__ == "__main__":
    run(main)
