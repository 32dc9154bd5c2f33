"""The data hook: what this project does to its dataset before the pipeline snapshots and
embeds it.

conf/data/{{ cookiecutter.dataset_name }}.yaml names it (`preprocess: {{ cookiecutter.package_name }}.data:preprocess`); the
library calls it wherever it reads the dataset's table: the snapshot stage (so a broken hook
stops the pipeline first) and the embed stage (which embeds what it returns). It is given the
table as read from the CSV, already checked (unique ids, non-empty texts, two labels or more),
and must return a table the same checks accept; anything else stops the stage with one line.
Keep it deterministic: the same table in must give the same table out, or runs stop being
reproducible. An edit here re-runs the stages (dvc.yaml depends on src/{{ cookiecutter.package_name }}/).
"""

from __future__ import annotations

from reprostack.api import TextTable


def preprocess(table: TextTable) -> TextTable:
    """Identity by default: the table as read from the CSV."""
    # For example, to drop very short texts and lowercase the rest:
    # keep = [i for i, text in enumerate(table.texts) if len(text.split()) >= 3]
    # return TextTable(
    #     ids=[table.ids[i] for i in keep],
    #     texts=[table.texts[i].lower() for i in keep],
    #     labels=[table.labels[i] for i in keep],
    # )
    return table
