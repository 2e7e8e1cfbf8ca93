"""`regionstack verify`: the parts that need no hosts.

The role -> suite mapping, the inventory and argument errors, the ssh_config, the flow
expectations (against the flow matrix code's own answer) and the summary of JUnit files.
"""
