"""Stand-in for the policy pack's registry (another branch writes the real one): only the
agreed policy names, so the catalogue's link check has something to import. Drop this file
at merge in favour of the pack's own policies/registry.py."""

POLICY_NAMES: tuple[str, ...] = (
    "aws-encryption-at-rest-region-kms",
    "aws-no-public-hosts",
    "aws-security-groups-within-flow-matrix",
    "aws-log-retention-180-days",
    "aws-cloudtrail-enabled",
    "aws-vpc-flow-logs-enabled",
    "aws-partition-correct-arns",
    "aws-required-tags",
    "aws-imdsv2-required",
    "local-firewall-from-flow-matrix",
    "local-hosts-have-common-baseline",
    "local-ports-bound-to-hosts",
)
