"""A stand-in `pulumi` CLI for the engine tests: logs each call, answers what the
Automation API asks (version, stack check, up, outputs, history).

FAKE_PULUMI_LOG: JSON lines of {argv, cwd, env} written here; FAKE_PULUMI_FAIL: stacks
(comma-separated) whose `up` fails; FAKE_PULUMI_NEW: stacks that do not exist yet.
"""

import json
import os
import sys

argv = sys.argv[1:]
with open(os.environ["FAKE_PULUMI_LOG"], "a", encoding="utf-8") as log:
    env = {k: v for k, v in os.environ.items() if k.startswith("PULUMI_")}
    log.write(json.dumps({"argv": argv, "cwd": os.getcwd(), "env": env}) + "\n")
stack = argv[argv.index("--stack") + 1] if "--stack" in argv else ""
# The Automation API puts global flags first.
argv = [a for a in argv if a != "--non-interactive"]
new = os.environ.get("FAKE_PULUMI_NEW", "").split(",")
if argv[:2] == ["stack", "--stack"] and stack in new:
    print(f"error: no stack named '{stack}' found", file=sys.stderr)
    sys.exit(255)
elif argv[:1] == ["version"]:
    print("v3.260.0")
elif argv[:1] == ["up"]:
    if stack in os.environ.get("FAKE_PULUMI_FAIL", "").split(","):
        print(f"error: update of {stack} failed: injected by the test", file=sys.stderr)
        sys.exit(255)
    print(f"Updating ({stack}):\nResources:\n    3 unchanged")
elif argv[:2] == ["stack", "output"]:
    print("{}")
elif argv[:2] == ["stack", "history"]:
    entry = {
        "kind": "update",
        "startTime": "2026-12-06T22:00:00.000Z",
        "endTime": "2026-12-06T22:00:01.000Z",
        "message": "",
        "environment": {},
        "config": {},
        "result": "succeeded",
        "version": 1,
    }
    print(json.dumps([entry]))
