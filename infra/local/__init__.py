"""The local target: a region's hosts as systemd-nspawn machines on one controller."""
