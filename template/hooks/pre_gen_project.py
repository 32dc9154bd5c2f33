"""Validate the answers before anything is copied; one line and exit 1 on bad input."""
import json
import sys

sys.path.insert(0, r'''{{ template_dir }}''')
import scaffold  # noqa: E402  (lives in the template directory, see scaffold.py)

sys.exit(scaffold.main_validate(json.loads(r'''{{ cookiecutter | tojson }}''')))
