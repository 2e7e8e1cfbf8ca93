"""`regionstack verify --hardening`: external yardsticks of the hosts' hardening.

"Hardening" names this check; "audit" is the AWS account audit (`regionstack audit`,
`infra/aws/audit/`), and auditd the hosts' own audit trail (MLPS 8.1.4.3).

Two independent tools judge every host of a region, so the roles are not only measured
by their own tests:

- **Lynis** (Debian package `lynis`): `lynis audit system --quick`; its hardening index
  (0-100) is read from `/var/log/lynis-report.dat`, with its warnings and suggestions.
- **OpenSCAP** (`openscap-scanner`) with the SCAP Security Guide content of Debian's
  `ssg-debian` package and its `standard` profile; the pass rate is pass / (pass + fail)
  over the rule results of the XCCDF results file.

Bookworm's `ssg-debian` (0.1.65) ships content for Debian 10 and 11 only. Its Debian 11
datastream is applied with its platform check (an OVAL pattern on /etc/debian_version)
re-targeted at 12, in a temporary copy on the host; without that every rule of the
benchmark is "notapplicable" on bookworm. The rules themselves are unchanged.

The tools are installed by the `common` role (`--tags common_hardening_tools`); the hosts
are reached as verify reaches them: the inventory resolved by Ansible
(`infra/verify/inventory.py`) and one multiplexed ssh connection per host from the
generated ssh_config (`infra/verify/ssh.py`), as the inventory's admin with `sudo`, all
hosts in parallel.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from infra.compliance import evidence
from infra.verify.context import write_private
from infra.verify.errors import VerifyError
from infra.verify.inventory import RegionInventory, resolve_inventory
from infra.verify.ssh import close_masters, run_ssh, ssh_config, ssh_hosts

# The component roles of the inventory's groups, in the order site.yml configures them.
ROLES = ("data_exchange", "hotline", "portal", "security_monitoring")

LYNIS_REPORT = "/var/log/lynis-report.dat"
SSG_DATASTREAM = "/usr/share/xml/scap/ssg/content/ssg-debian11-ds.xml"
# The platform check of the Debian 11 content, and what it becomes for bookworm.
SSG_PLATFORM_PATTERN = ">^11.[0-9]+$<"
SSG_PLATFORM_TARGET = ">^12.[0-9]+$<"
# The same as a sed basic regular expression ("^" and "+" are literal there).
_SSG_PLATFORM_SED = r">^11\.\[0-9\]+\$<"
OSCAP_PROFILE = "xccdf_org.ssgproject.content_profile_standard"
RULE_PREFIX = "xccdf_org.ssgproject.content_rule_"

# A quick Lynis run takes about a minute on a small host, OpenSCAP's standard profile less.
AUDIT_TIMEOUT_SECONDS = 900
# Exit codes of the remote scripts below, for the errors that name their fix.
_TOOL_MISSING = 3
_CONTENT_MISSING = 4
_TOOL_FAILED = 5
_SSH_FAILED = 255
# Items per host in the table; the JSON has them all.
TOP_ITEMS = 4

_LYNIS_SCRIPT = f"""
set -u
command -v lynis >/dev/null 2>&1 || exit {_TOOL_MISSING}
rm -f {LYNIS_REPORT}
lynis audit system --quick --no-colors >/dev/null 2>&1
test -s {LYNIS_REPORT} || exit {_TOOL_FAILED}
cat {LYNIS_REPORT}
"""

_OSCAP_SCRIPT = f"""
set -u
command -v oscap >/dev/null 2>&1 || exit {_TOOL_MISSING}
test -r {SSG_DATASTREAM} || exit {_CONTENT_MISSING}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed 's/{_SSG_PLATFORM_SED}/{SSG_PLATFORM_TARGET}/' \\
  {SSG_DATASTREAM} > "$work/ds.xml"
# 0: all rules pass, 2: some fail, anything else: oscap could not evaluate.
oscap xccdf eval --profile {OSCAP_PROFILE} --results "$work/results.xml" "$work/ds.xml" \\
  >/dev/null 2>"$work/stderr"
rc=$?
if [ "$rc" -ne 0 ] && [ "$rc" -ne 2 ]; then tail -n 5 "$work/stderr" >&2; exit {_TOOL_FAILED}; fi
cat "$work/results.xml"
"""


@dataclass(frozen=True)
class Finding:
    """One Lynis warning or suggestion: its test id, text and details."""

    id: str
    text: str
    detail: str = ""


@dataclass(frozen=True)
class LynisResult:
    hardening_index: int
    tests_done: int
    warnings: list[Finding]
    suggestions: list[Finding]


@dataclass(frozen=True)
class OscapResult:
    profile: str
    counts: dict[str, int]
    failed: list[str]

    @property
    def pass_rate(self) -> float | None:
        """pass / (pass + fail), None when no rule was decided."""
        decided = self.counts.get("pass", 0) + self.counts.get("fail", 0)
        return self.counts.get("pass", 0) / decided if decided else None


@dataclass(frozen=True)
class HostHardening:
    host: str
    role: str
    address: str
    lynis: LynisResult | None = None
    oscap: OscapResult | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def hardening_index(self) -> int | None:
        return self.lynis.hardening_index if self.lynis else None

    @property
    def pass_rate(self) -> float | None:
        return self.oscap.pass_rate if self.oscap else None


@dataclass(frozen=True)
class Remote:
    """What a remote script returned: exit code, standard output and error."""

    returncode: int
    stdout: str
    stderr: str


# Runs a shell script as root on a host: (inventory host name, script) -> result.
Runner = Callable[[str, str], Remote]


@dataclass(frozen=True)
class _Target:
    host: str
    role: str
    address: str
    inventory: str  # the inventory file, for the fix in error messages


def parse_lynis_report(text: str) -> LynisResult:
    """Read a lynis-report.dat: `key=value` lines, `key[]=value` for lists."""
    values: dict[str, str] = {}
    lists: dict[str, list[str]] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or line.startswith("#"):
            continue
        if key.endswith("[]"):
            lists.setdefault(key[:-2], []).append(value)
        else:
            values[key] = value
    if not values.get("hardening_index", "").isdigit():
        raise ValueError("the Lynis report has no hardening_index: the audit did not finish")
    return LynisResult(
        hardening_index=int(values["hardening_index"]),
        tests_done=int(values.get("lynis_tests_done", "0") or 0),
        warnings=[_finding(item) for item in lists.get("warning", [])],
        suggestions=[_finding(item) for item in lists.get("suggestion", [])],
    )


def _finding(item: str) -> Finding:
    # id|text|details|solution| ; "-" stands for an empty field.
    parts = [p if p != "-" else "" for p in item.split("|")] + ["", ""]
    return Finding(id=parts[0], text=parts[1], detail=parts[2])


def parse_oscap_results(text: str) -> OscapResult:
    """Count the rule results of an XCCDF results file (1.1 or 1.2, bare or in a Benchmark)."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as err:
        raise ValueError(f"the OpenSCAP results are not XML: {err}") from err
    test_results = [e for e in root.iter() if _local(e.tag) == "TestResult"]
    if not test_results:
        raise ValueError("the OpenSCAP results hold no TestResult: the evaluation did not run")
    test_result = test_results[-1]
    profile = next(
        (e.get("idref", "") for e in test_result if _local(e.tag) == "profile"), ""
    ).removeprefix("xccdf_org.ssgproject.content_profile_")
    counts: dict[str, int] = {}
    failed: list[str] = []
    for rule_result in test_result.iter():
        if _local(rule_result.tag) != "rule-result":
            continue
        outcome = next((e.text or "" for e in rule_result if _local(e.tag) == "result"), "")
        counts[outcome] = counts.get(outcome, 0) + 1
        if outcome in ("fail", "error"):
            failed.append(rule_result.get("idref", "").removeprefix(RULE_PREFIX))
    return OscapResult(profile=profile, counts=counts, failed=failed)


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _targets(region: RegionInventory) -> list[_Target]:
    targets = [
        _Target(host.name, role, host.address, region.source)
        for role in ROLES
        for host in region.hosts_of(role)
    ]
    if not targets:
        raise VerifyError(f"the inventory {region.source} lists no hosts in {', '.join(ROLES)}")
    return targets


def _remote(config: Path, host: str, script: str) -> Remote:
    """Run `script` as root on `host` through the ssh_config at `config`."""
    try:
        completed = run_ssh(
            config, host, command="sudo -n sh -s", stdin=script, timeout=AUDIT_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        return Remote(_SSH_FAILED, "", f"no answer within {AUDIT_TIMEOUT_SECONDS} s")
    except FileNotFoundError:
        return Remote(_SSH_FAILED, "", "the ssh client is not installed on this machine")
    return Remote(completed.returncode, completed.stdout, completed.stderr)


@contextmanager
def ssh_runner(region: RegionInventory) -> Iterator[Runner]:
    """A Runner over verify's ssh_config of `region`, its master connections closed after."""
    workdir = Path(tempfile.mkdtemp(prefix=f"regionstack-hardening-{region.stack}-"))
    control = workdir / "cm"
    control.mkdir(mode=0o700)
    config = workdir / "ssh_config"
    write_private(config, ssh_config([region], control))
    reached = set(ssh_hosts([region]))

    def run(host: str, script: str) -> Remote:
        if host not in reached:
            connection = region.hostvars[host].get("ansible_connection")
            return Remote(_SSH_FAILED, "", f"the inventory reaches it by {connection}, not ssh")
        return _remote(config, host, script)

    try:
        yield run
    finally:
        close_masters(config, sorted(reached))
        shutil.rmtree(workdir, ignore_errors=True)


def _remote_error(target: _Target, tool: str, package: str, remote: Remote) -> str:
    last = (remote.stderr.strip().splitlines() or ["no message"])[-1]
    fix = f"ansible-playbook -i {target.inventory} playbooks/site.yml --tags common_hardening_tools"
    if remote.returncode == _SSH_FAILED:
        return (
            f"{tool}: cannot reach {target.host} ({target.address}) over SSH: {last}; is the "
            "region up (`regionstack local status`) and the inventory current?"
        )
    if remote.returncode == _TOOL_MISSING:
        return f"{tool}: {package} is not installed on {target.host}; install it with `{fix}`"
    if remote.returncode == _CONTENT_MISSING:
        return (
            f"{tool}: {SSG_DATASTREAM} is missing on {target.host} (package ssg-debian); "
            f"install it with `{fix}`"
        )
    return f"{tool}: failed on {target.host} (exit {remote.returncode}): {last}"


def _lynis(target: _Target, run: Runner) -> tuple[LynisResult | None, str | None]:
    remote = run(target.host, _LYNIS_SCRIPT)
    if remote.returncode != 0:
        return None, _remote_error(target, "lynis", "lynis", remote)
    try:
        return parse_lynis_report(remote.stdout), None
    except ValueError as err:
        return None, f"lynis: {target.host}: {err}"


def _oscap(target: _Target, run: Runner) -> tuple[OscapResult | None, str | None]:
    remote = run(target.host, _OSCAP_SCRIPT)
    if remote.returncode != 0:
        return None, _remote_error(target, "openscap", "openscap-scanner", remote)
    try:
        return parse_oscap_results(remote.stdout), None
    except ValueError as err:
        return None, f"openscap: {target.host}: {err}"


def _check_host(target: _Target, run: Runner) -> HostHardening:
    lynis, lynis_error = _lynis(target, run)
    # An unreachable host fails the same way twice: say it once.
    if lynis_error and "cannot reach" in lynis_error:
        return HostHardening(target.host, target.role, target.address, errors=[lynis_error])
    oscap, oscap_error = _oscap(target, run)
    errors = [e for e in (lynis_error, oscap_error) if e]
    return HostHardening(target.host, target.role, target.address, lynis, oscap, errors)


# The Lynis hardening index every host must reach (issue #5: by hardening, never by
# excluding tests).
HARDENING_INDEX_TARGET = 80


def shortfalls(results: Sequence[HostHardening]) -> list[str]:
    """What keeps the check from passing: hosts not checked, or under the target index."""
    problems = [f"{r.host}: {error}" for r in results for error in r.errors]
    problems += [
        f"{r.host}: hardening index {r.hardening_index} < {HARDENING_INDEX_TARGET}"
        for r in results
        if r.hardening_index is not None and r.hardening_index < HARDENING_INDEX_TARGET
    ]
    return problems


def check_region(region: RegionInventory, runner: Runner) -> list[HostHardening]:
    """Run Lynis and OpenSCAP on every host of the region, hosts in parallel.

    Results come grouped by role (site.yml's order), hosts sorted within a role. A host
    that cannot be checked carries its errors instead of figures.
    """
    targets = _targets(region)
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        return list(pool.map(lambda t: _check_host(t, runner), targets))


def check_stack(stack: str, inventory: Path) -> list[HostHardening]:
    """`check_region` of the region whose inventory is at `inventory`, over ssh."""
    region = resolve_inventory(inventory, stack)
    with ssh_runner(region) as runner:
        return check_region(region, runner)


def by_role(results: Iterable[HostHardening]) -> dict[str, list[HostHardening]]:
    grouped: dict[str, list[HostHardening]] = {}
    for result in results:
        grouped.setdefault(result.role, []).append(result)
    return grouped


def _percent(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.0%}"


def _top_items(result: HostHardening) -> str:
    items: list[str] = []
    if result.lynis:
        items += [f.id for f in result.lynis.warnings + result.lynis.suggestions][:TOP_ITEMS]
    if result.oscap:
        items += result.oscap.failed[:TOP_ITEMS]
    return ", ".join(items) or "-"


def format_hardening(results: Sequence[HostHardening]) -> str:
    """A table per host (grouped by role), each role's range, then any errors."""
    lines = [
        f"{'host':<32} {'role':<20} {'lynis':>5} {'oscap':>5}  top failing items",
    ]
    for role, hosts in by_role(results).items():
        for r in hosts:
            index = "-" if r.hardening_index is None else str(r.hardening_index)
            lines.append(
                f"{r.host:<32} {role:<20} {index:>5} {_percent(r.pass_rate):>5}  {_top_items(r)}"
            )
    lines.append("")
    for role, hosts in by_role(results).items():
        indexes = [h.hardening_index for h in hosts if h.hardening_index is not None]
        rates = [h.pass_rate for h in hosts if h.pass_rate is not None]
        lines.append(
            f"{role:<20} hardening index {_range(indexes)}, OpenSCAP pass rate "
            f"{_range([round(r * 100) for r in rates], '%')} ({len(hosts)} hosts)"
        )
    profile = next((r.oscap.profile for r in results if r.oscap), OSCAP_PROFILE)
    lines.append(f"Lynis hardening index (0-100); OpenSCAP ssg-debian profile {profile!r}")
    for r in results:
        lines.extend(f"ERROR {e}" for e in r.errors)
    return "\n".join(lines)


def _range(values: Sequence[int], unit: str = "") -> str:
    if not values:
        return "-"
    low, high = min(values), max(values)
    return f"{low}{unit}" if low == high else f"{low}-{high}{unit}"


def hardening_json(results: Sequence[HostHardening]) -> str:
    """Every figure and finding, grouped by role, for review tools and the docs."""
    payload = {
        role: [
            asdict(h) | {"hardening_index": h.hardening_index, "pass_rate": h.pass_rate}
            for h in hosts
        ]
        for role, hosts in by_role(results).items()
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)


def record_hardening(
    stack: str, results: Sequence[HostHardening], root: Path | None = None
) -> evidence.Evidence:
    """Keep the figures as the stack's latest hardening evidence, for the compliance report."""
    return evidence.record(stack, evidence.HARDENING, hardening_json(results).encode(), root)
