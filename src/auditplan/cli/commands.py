"""Imports every command module so that each registers on the `main` group.

One import line per module; keep them in data-flow order.
"""
