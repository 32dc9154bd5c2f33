"""Garbage collection: reachability from what must be kept (roots.py), the list of what would go
with its size and reason (plan.py), and deleting it through a journal (collect.py)."""
