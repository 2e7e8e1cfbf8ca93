"""`regionstack audit` (infra/aws/audit/) against the emulator, in both partitions.

The compliant account is the region as the program declares it; the non-compliant one
is the same with every violation of tests/unit/aws/emulator/account.py applied, each of
which must come back as exactly one finding naming its resource and a fix.
"""
