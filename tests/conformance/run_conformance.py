#!/usr/bin/env python3
"""Runs the official MCP conformance suite's server scenarios against one MCP endpoint and prints
a JSON summary {"scenario": "pass" | "fail"} on stdout.

    run_conformance.py URL [--scenario NAME ...] [--header 'Name: value' ...] [--details]
                           [--compare EXPECTED.json] [--same-as OTHER_URL]

A scenario passes when none of its checks has status FAILURE (WARNING and INFO are advice).
With --compare, the summary is checked against an expected file ({"pass": [...], "fail": {...}})
and the exit status is 1 when an expected pass now fails (a regression); scenarios that now pass
but were expected to fail are reported on stderr as improvements. The same script compares a
direct run against a run through a gateway: give it the gateway's URL and the same expected file,
or --same-as the upstream's URL to run the suite against both and fail on any scenario whose result
differs (the gateway loses nothing); the JSON then is {"summary", "same_as", "differences"}.

--header adds an HTTP header to every request the suite sends (the suite's CLI has no such option;
tests/conformance/add_headers.mjs is preloaded into it), e.g. --header 'Authorization: Bearer KEY'
for tuna's gateway. With --same-as the headers go to URL only, not to OTHER_URL.

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
SUITE = os.path.join(ROOT, "tests", "interop", "conformance", "node_modules")
CLI = os.path.join(SUITE, "@modelcontextprotocol", "conformance", "dist", "index.js")
PRELOAD = os.path.join(ROOT, "tests", "conformance", "add_headers.mjs")


def node_command(headers):
    """The node command line (and environment) that runs the suite, adding `headers` to its requests."""
    if not headers:
        return ["node", CLI], None
    env = dict(os.environ)
    env["CONFORMANCE_EXTRA_HEADERS"] = json.dumps(headers)
    env["CONFORMANCE_UNDICI"] = os.path.join(SUITE, "undici", "index.js")
    return ["node", "--import", PRELOAD, CLI], env


def parse_headers(values):
    headers = {}
    for v in values or []:
        name, sep, value = v.partition(":")
        if not sep or not name.strip():
            raise SystemExit("--header takes 'Name: value', got %r" % v)
        headers[name.strip()] = value.strip()
    return headers


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


def run_scenario(url, scenario, out_dir, timeout, headers=None):
    """Returns (passed, failing checks) for one scenario."""
    scenario_dir = os.path.join(out_dir, scenario.replace("/", "_"))
    os.makedirs(scenario_dir, exist_ok=True)
    cmd, env = node_command(headers)
    try:
        proc = subprocess.run(cmd + ["server", "--url", url, "--scenario", scenario, "-o", scenario_dir],
                              capture_output=True, text=True, timeout=timeout, env=env)
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


def run_all(url, out_dir, timeout, headers=None):
    """Runs every server scenario (active and pending) in one suite run; {scenario: (passed, failures)}."""
    cmd, env = node_command(headers)
    try:
        proc = subprocess.run(cmd + ["server", "--url", url, "--suite", "all", "-o", out_dir],
                              capture_output=True, text=True, timeout=timeout, env=env)
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


def run_suite(url, scenarios, timeout, headers):
    """{scenario: "pass" | "fail"} and {scenario: failing checks} of one run against url."""
    summary, details = {}, {}
    with tempfile.TemporaryDirectory(prefix="mcp-conformance-") as out_dir:
        if scenarios:
            results = {s: run_scenario(url, s, out_dir, timeout, headers) for s in scenarios}
        else:
            results = run_all(url, out_dir, timeout, headers)
        for scenario, (passed, failures) in results.items():
            summary[scenario] = "pass" if passed else "fail"
            if failures:
                details[scenario] = failures
    return summary, details


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url")
    parser.add_argument("--scenario", action="append", help="run only these scenarios")
    parser.add_argument("--header", action="append", help="'Name: value' added to every request to url (repeatable)")
    parser.add_argument("--details", action="store_true", help="also print the failing checks")
    parser.add_argument("--compare", help="expected results file; exit 1 on a regression")
    parser.add_argument("--same-as", metavar="OTHER_URL",
                        help="also run against OTHER_URL (without --header); exit 1 when a scenario's result differs")
    parser.add_argument("--timeout", type=int, default=180, help="seconds for the suite (per scenario with --scenario)")
    args = parser.parse_args()
    if not os.path.exists(CLI):
        print("conformance suite missing: run npm ci --prefix tests/interop/conformance", file=sys.stderr)
        return 2
    headers = parse_headers(args.header)

    summary, details = run_suite(args.url, args.scenario, args.timeout, headers)
    report = {"summary": summary, "failures": details} if args.details else summary
    failed = False
    if args.same_as:
        # Sequential, not parallel: the two runs must not compete for the machine (timing checks).
        other, other_details = run_suite(args.same_as, args.scenario, args.timeout, {})
        differences = {s: {"url": summary.get(s, "missing"), "same_as": other.get(s, "missing")}
                       for s in sorted(set(summary) | set(other)) if summary.get(s) != other.get(s)}
        report = {"summary": summary, "same_as": other, "differences": differences}
        if args.details:
            report["failures"] = details
            report["same_as_failures"] = other_details
        for s, d in differences.items():
            print("DIFFERENT: %s is %s at %s but %s at %s: %s" % (s, d["url"], args.url, d["same_as"], args.same_as,
                                                                 json.dumps(details.get(s) or other_details.get(s))),
                  file=sys.stderr)
        failed = bool(differences)
    print(json.dumps(report, indent=2, sort_keys=True))

    if not args.compare:
        return 1 if failed else 0
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
    return 1 if regressions or failed else 0


if __name__ == "__main__":
    sys.exit(main())
