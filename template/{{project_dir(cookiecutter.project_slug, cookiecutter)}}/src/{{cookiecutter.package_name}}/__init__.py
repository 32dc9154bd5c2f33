"""{{ cookiecutter.project_name }}: this project's own code, on top of the reprostack library.

The pipeline's stages, the registry, serving and the store are the library's (`reprostack
--help`); what lives here is yours: the data hook (data.py) and any stage you add (README, "Add a
stage of your own"). dvc.yaml makes every stage depend on this directory.
"""
