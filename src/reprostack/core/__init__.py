"""What every stage and command stands on: params (config, params, fields), the one exception
root (errors), owned JSON documents (jsonio), name rules (names), the git helper (git), named
kill points (faults), what killed processes leave behind, ours, git's and DVC's (leftovers), and
DVC's temporary workspaces (workspace).

One package, so a pipeline stage depends on it with one line of dvc.yaml. Cheap to import:
nothing here loads torch, lancedb or sklearn at import time; import the modules by name.
"""
