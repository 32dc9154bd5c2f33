"""Add the files the project shares with this repository and requirements.lock (the library pinned),
write .cruft.json, git init and commit."""

import json
import sys

sys.path.insert(0, r"""{{ template_dir }}""")
import scaffold  # noqa: E402  (lives in the template directory, see scaffold.py)

sys.exit(scaffold.main_build(json.loads(r"""{{ cookiecutter | tojson }}"""), r"""{{ template_url(cookiecutter) }}"""))
