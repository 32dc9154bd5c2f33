"""Stage compose: keep params.yaml equal to the Hydra composition of conf/.

DVC runs it when conf/ or the code changed, when params.yaml differs from dvc.lock (a hand edit,
`dvc exp run -S`), and when runs/stages/params-drift.txt lists values an experiment left (see
stages/_runner.py): no stage is always-changed, so `dvc status` is clean when nothing changed.
Under a plain `dvc repro` it rewrites params.yaml from conf/ and prints every value it changes,
so params left by `dvc exp run -S` are put back loudly, never kept silently. Under `dvc exp run`
(DVC has just composed params.yaml with the -S overrides) and `runs reproduce` (which restored a
run's params) the file is validated and kept; if an override is invalid, params.yaml is restored
from conf/ before the run stops, so every other command keeps working.
"""

from __future__ import annotations

import sys

from reprostack.core import config
from reprostack.core.errors import ConfigError
from reprostack.model.training import check_classifier
from reprostack.stages._runner import PARAMS_DRIFT, run, write_marker


def main() -> bool:
    """True when params.yaml changed: only then does it stamp (and the record stage run)."""
    # the marker's idle content is what DVC saves for this stage; a later stage of an experiment
    # that finds drift writes it again
    write_marker(PARAMS_DRIFT, [])
    if config.params_given_by_caller():
        try:
            check_classifier(config.load_params(config.PARAMS_FILE))
        except ConfigError as exc:
            config.write_composed(config.CONF_DIR, config.PARAMS_FILE, check=check_classifier)
            raise ConfigError(
                f"{exc}. The run is stopped and params.yaml was restored from conf/, so nothing "
                "else is affected; fix the -S value and run again"
            ) from None
        return True
    changes = config.write_composed(config.CONF_DIR, config.PARAMS_FILE, check=check_classifier)
    for key, (old, new) in changes.items():
        print(f"params.yaml: {key}: {old!r} -> {new!r} (from conf/)", file=sys.stderr)
    if changes:
        print(
            f"params.yaml: {len(changes)} value(s) put back from conf/ (after `dvc exp run -S` or a hand edit); "
            "put lasting changes into conf/",
            file=sys.stderr,
        )
    return bool(changes)


if __name__ == "__main__":
    run(main)
