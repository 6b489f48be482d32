#!/usr/bin/env python3
"""Runs the official MCP conformance suite's server scenarios against one MCP endpoint and prints
a JSON summary {"scenario": "pass" | "fail"} on stdout.

    run_conformance.py URL [--scenario NAME ...] [--details] [--compare EXPECTED.json]

A scenario passes when none of its checks has status FAILURE (WARNING and INFO are advice).
With --compare, the summary is checked against an expected file ({"pass": [...], "fail": {...}})
and the exit status is 1 when an expected pass now fails (a regression); scenarios that now pass
but were expected to fail are reported on stderr as improvements. The same script compares a
direct run against a run through a gateway: give it the gateway's URL and the same expected file.

Needs `npm ci --prefix tests/interop/conformance` (the suite pinned in that package.json).
"""

import argparse
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = os.path.join(ROOT, "tests", "interop", "conformance", "node_modules", "@modelcontextprotocol", "conformance",
                   "dist", "index.js")


def list_server_scenarios():
    out = subprocess.run(["node", CLI, "list"], capture_output=True, text=True, timeout=60).stdout
    names, in_server = [], False
    for line in out.splitlines():
        if line.startswith("Server scenarios"):
            in_server = True
        elif line.startswith("Client scenarios"):
            in_server = False
        elif in_server and line.strip().startswith("- "):
            names.append(line.strip()[2:].strip())
    return names


def run_scenario(url, scenario, out_dir, timeout):
    """Returns (passed, failing checks) for one scenario."""
    scenario_dir = os.path.join(out_dir, scenario.replace("/", "_"))
    os.makedirs(scenario_dir, exist_ok=True)
    try:
        proc = subprocess.run(["node", CLI, "server", "--url", url, "--scenario", scenario, "-o", scenario_dir],
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, [{"id": "timeout", "errorMessage": "scenario timed out after %ss" % timeout}]
    checks = []
    for path in glob.glob(os.path.join(scenario_dir, "**", "checks.json"), recursive=True):
        with open(path) as f:
            checks.extend(json.load(f))
    if not checks:
        tail = (proc.stdout + proc.stderr)[-400:]
        return False, [{"id": "no-checks", "errorMessage": "no checks.json written (exit %d): %s" % (proc.returncode, tail)}]
    failures = [{"id": c.get("id"), "errorMessage": c.get("errorMessage")} for c in checks if c.get("status") == "FAILURE"]
    return not failures, failures


def run_all(url, out_dir, timeout):
    """Runs every server scenario (active and pending) in one suite run; {scenario: (passed, failures)}."""
    try:
        proc = subprocess.run(["node", CLI, "server", "--url", url, "--suite", "all", "-o", out_dir],
                              capture_output=True, text=True, timeout=timeout)
        log = proc.stdout + proc.stderr
    except subprocess.TimeoutExpired:
        log = "suite timed out after %ss" % timeout
    results = {}
    for entry in sorted(os.listdir(out_dir)):
        m = re.match(r"^server-(.+)-\d{4}-\d{2}-\d{2}T", entry)
        path = os.path.join(out_dir, entry, "checks.json")
        if not m or not os.path.exists(path):
            continue
        with open(path) as f:
            checks = json.load(f)
        failures = [{"id": c.get("id"), "errorMessage": c.get("errorMessage")} for c in checks if c.get("status") == "FAILURE"]
        results[m.group(1)] = (not failures, failures)
    for scenario in list_server_scenarios():
        if scenario not in results:
            results[scenario] = (False, [{"id": "no-checks", "errorMessage": "no checks.json written: " + log[-400:]}])
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--details", action="store_true", help="also print the failing checks")
    parser.add_argument("--compare", help="expected results file; exit 1 on a regression")
    parser.add_argument("--timeout", type=int, default=180, help="seconds for the suite (per scenario with --scenario)")
    args = parser.parse_args()
    if not os.path.exists(CLI):
        print("conformance suite missing: run npm ci --prefix tests/interop/conformance", file=sys.stderr)
        return 2

    summary, details = {}, {}
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as out_dir:
        if args.scenario:
            results = {s: run_scenario(args.url, s, out_dir, args.timeout) for s in args.scenario}
        else:
            results = run_all(args.url, out_dir, args.timeout)
        for scenario, (passed, failures) in results.items():
            summary[scenario] = "pass" if passed else "fail"
            if failures:
                details[scenario] = failures
    print(json.dumps({"summary": summary, "failures": details} if args.details else summary, indent=2, sort_keys=True))

    if not args.compare:
        return 0
    with open(args.compare) as f:
        expected = json.load(f)
    regressions = [s for s in expected.get("pass", []) if summary.get(s) != "pass"]
    improvements = [s for s in expected.get("fail", {}) if summary.get(s) == "pass"]
    unknown = [s for s in summary if s not in expected.get("pass", []) and s not in expected.get("fail", {})]
    for s in improvements:
        print("improvement: %s now passes (move it to \"pass\" in %s)" % (s, args.compare), file=sys.stderr)
    for s in unknown:
        print("new scenario: %s (%s); add it to %s" % (s, summary[s], args.compare), file=sys.stderr)
    for s in regressions:
        print("REGRESSION: %s was expected to pass: %s" % (s, json.dumps(details.get(s))), file=sys.stderr)
    return 1 if regressions else 0


if __name__ == "__main__":
    sys.exit(main())
