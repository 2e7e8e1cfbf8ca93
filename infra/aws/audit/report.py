"""The audit report as `regionstack audit` prints it: a line per result, the counts,
and after findings how to bring the stack's state back in line."""

from __future__ import annotations

from infra.aws.audit.model import AuditReport, Finding, Passed, Skipped


def format_report(report: AuditReport) -> str:
    target = report.target
    lines = [
        f"audit of {target.stack} in {target.partition.name} {target.region}, "
        f"account {report.account}"
    ]
    for result in report.results:
        if isinstance(result, Finding):
            lines.append(f"FAIL {result.check}: {result.resource}: {result.problem}")
            lines.append(f"     fix: {result.fix}")
        elif isinstance(result, Passed):
            lines.append(f"ok   {result.check}: {result.resource}: {result.detail}")
        else:
            lines.append(f"skip {result.check}: {result.reason}")
    skipped = sum(isinstance(r, Skipped) for r in report.results)
    passed = sum(isinstance(r, Passed) for r in report.results)
    lines.append(f"{len(report.findings)} finding(s), {passed} passed, {skipped} skipped")
    if report.findings:
        lines.append(
            f"after fixing by hand, `pulumi refresh --stack {target.stack}` brings the "
            "stack's state back in line with the account"
        )
    return "\n".join(lines)
