from __future__ import annotations

import pytest

from policies.aws.encryption import BUCKET, BUCKET_ENCRYPTION, KMS_KEY, check_encryption_at_rest
from policies.model import UNKNOWN, RegionFacts
from tests.unit.policies.conftest import KEY_ARN, resource

KEY = resource(KMS_KEY, "kms", arn=KEY_ARN)


def _instance(**root: object) -> object:
    return resource("aws:ec2/instance:Instance", "host", rootBlockDevice=root)


def test_volumes_and_buckets_with_the_region_key_pass(aws_facts: RegionFacts) -> None:
    resources = [
        KEY,
        _instance(encrypted=True, kmsKeyId=KEY_ARN),
        resource(BUCKET, "logs", id="logs-id"),
        resource(
            BUCKET_ENCRYPTION,
            "enc",
            bucket="logs-id",
            rules=[
                {
                    "applyServerSideEncryptionByDefault": {
                        "sseAlgorithm": "aws:kms",
                        "kmsMasterKeyId": KEY_ARN,
                    }
                }
            ],
        ),
    ]
    assert check_encryption_at_rest(resources, aws_facts) == []


@pytest.mark.parametrize(
    ("root", "expected"),
    [
        ({"encrypted": False, "kmsKeyId": KEY_ARN}, "not encrypted"),
        ({"encrypted": True, "kmsKeyId": None}, "AWS managed key"),
        ({"encrypted": True, "kmsKeyId": "arn:aws-cn:kms:x:1:key/other"}, "not the region's key"),
    ],
)
def test_a_volume_without_the_region_key_is_caught(
    aws_facts: RegionFacts, root: dict[str, object], expected: str
) -> None:
    findings = check_encryption_at_rest([KEY, _instance(**root)], aws_facts)
    assert [f.urn for f in findings] == [_instance().urn]  # type: ignore[attr-defined]
    assert expected in findings[0].message and "RegionKey.arn" in findings[0].message


def test_a_bucket_without_default_encryption_is_caught(aws_facts: RegionFacts) -> None:
    findings = check_encryption_at_rest([KEY, resource(BUCKET, "b", id="b-id")], aws_facts)
    assert len(findings) == 1 and "no default encryption" in findings[0].message


def test_aes256_bucket_encryption_is_caught(aws_facts: RegionFacts) -> None:
    aes = resource(
        BUCKET_ENCRYPTION,
        "enc",
        bucket="b-id",
        rules=[{"applyServerSideEncryptionByDefault": {"sseAlgorithm": "AES256"}}],
    )
    findings = check_encryption_at_rest([KEY, aes], aws_facts)
    assert ["not encrypted with KMS" in f.message for f in findings] == [True]


def test_a_stack_without_a_key_is_caught(aws_facts: RegionFacts) -> None:
    findings = check_encryption_at_rest([_instance(encrypted=True, kmsKeyId=KEY_ARN)], aws_facts)
    assert any("no KMS key of its own" in f.message for f in findings)


def test_unknown_keys_in_a_preview_are_not_judged(aws_facts: RegionFacts) -> None:
    assert (
        check_encryption_at_rest([KEY, _instance(encrypted=True, kmsKeyId=UNKNOWN)], aws_facts)
        == []
    )
