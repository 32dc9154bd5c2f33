"""Thin DVC stage entry points: `python -m reprostack.stages.<name>`.

Each reads params.yaml through config.load_params, calls the library, and writes only the
outputs its dvc.yaml entry declares.
"""
