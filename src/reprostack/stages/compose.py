"""Stage compose: keep params.yaml equal to the Hydra composition of conf/.

Under `dvc exp run`, DVC has just composed params.yaml itself with the -S overrides (and
`runs reproduce` has restored a run's params), so it is validated and left alone. Under plain
`dvc repro` it is rewritten from conf/, and any value that changes is printed, so params.yaml
cannot silently drift from conf/.
"""

from __future__ import annotations

import sys

from reprostack import config
from reprostack.stages._runner import run


def main() -> None:
    if config.params_given_by_caller():
        config.check_classifier(config.load_params(config.PARAMS_FILE))
        return
    for key, (old, new) in config.write_composed(config.CONF_DIR, config.PARAMS_FILE).items():
        print(f"params.yaml: {key}: {old!r} -> {new!r} (from conf/)", file=sys.stderr)


if __name__ == "__main__":
    run(main)
