"""Validators of the `local` target's resources (the program in infra/program/local.py)."""
