"""The base image pipeline without building: recipe digest, mirror discovery, the cache
(status, prune, atomic publish, lock, restore), preflight and progress.

Builds are faked by replacing `_build_into`; the real build is tests/e2e/local/test_image.py.
"""
