from __future__ import annotations

import json

from policies.aws.partition import check_arn_partitions
from policies.model import RegionFacts
from tests.unit.policies.conftest import resource

ROLE = "aws:iam/rolePolicyAttachment:RolePolicyAttachment"


def test_arns_of_the_region_partition_pass(aws_facts: RegionFacts) -> None:
    ok = resource(ROLE, policyArn="arn:aws-cn:iam::aws:policy/AmazonSSMManagedInstanceCore")
    assert check_arn_partitions(ok, aws_facts) == []


def test_a_global_arn_in_aws_cn_is_caught_also_inside_a_policy_document(
    aws_facts: RegionFacts,
) -> None:
    document = json.dumps({"Statement": [{"Resource": "arn:aws:s3:::bucket/*"}]})
    caught = check_arn_partitions(
        resource("aws:iam/rolePolicy:RolePolicy", policy=document), aws_facts
    )
    assert "arn:aws:..." in caught[0] and "infra/aws/partition.py" in caught[0]
