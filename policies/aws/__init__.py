"""Validators of the `aws` target's resources (the program in infra/program/aws.py)."""
