"""Compliance as code: the MLPS 2.0 (GB/T 22239-2019) level 3 control catalogue, its
waivers, the evidence each region has produced, and the report and diff reviewers read.

Modules: `catalog` (compliance/controls.yaml, loaded and checked), `evidence` (what
`regionstack verify`, the policy pack and the hardening yardsticks last recorded for a
stack).
"""
