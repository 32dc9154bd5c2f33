{{ check_answers(cookiecutter) -}}
"""The answers were checked while cookiecutter rendered this file (reprostack_template.check_answers):
a bad one stopped it there with one line, before anything was written. Nothing is left to do."""
