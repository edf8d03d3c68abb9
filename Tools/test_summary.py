#!/usr/bin/env python3
"""The one summary line of `make test`: passed, failed and skipped tests over every suite.

Reads the XCTest console log of `swift test` and the JUnit XML files the pytest suites write, plus
`NAME=STATUS` pairs for suites that are one check each (a shell script's exit status). A skip is
allowed only for a hardware reason, which the test states as a message beginning "hardware:"; any
other skip is counted as a failure, so a missing fixture or tool can never turn a suite green.

    test_summary.py --xctest .build/test.log --junit .build/test-results/*.xml --check arm64=0
Exit status 0 only when nothing failed.
"""
from __future__ import annotations

import argparse
import re
import sys
import xml.etree.ElementTree as ET

CASE = re.compile(r"^Test Case '([^']+)' (passed|failed|skipped) \(")
# swift-corelibs-xctest prints a skip as "<file>:<line>: <Class.test> : Test skipped - <message>", or for
# XCTSkipUnless "... : Test skipped: required true value but got false - <message>".
SKIP = re.compile(r"^(?:.*?: )?(\S+) : Test skipped(.*)$")


def xctest(path: str, results: dict) -> None:
    reasons: dict[str, str] = {}
    finished = False
    with open(path, encoding="utf-8", errors="replace") as log:
        for line in log:
            line = line.rstrip("\n")
            if match := SKIP.match(line):
                rest = match.group(2)
                reasons[match.group(1)] = rest.split(" - ", 1)[1].strip() if " - " in rest else ""
            elif match := CASE.match(line):
                name, outcome = match.groups()
                results["swift " + name] = (outcome, reasons.get(name, ""))
            elif (line.startswith("Test Suite 'All tests' ") or line.startswith("Test Suite 'Selected tests' ")) \
                    and (" passed at " in line or " failed at " in line):
                finished = True
    if not finished:
        results[f"swift {path}: the test run did not finish (crash?)"] = ("failed", "")


def junit(path: str, results: dict) -> None:
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError) as error:
        results[f"pytest {path}"] = ("failed", f"unreadable report: {error}")
        return
    for case in root.iter("testcase"):
        name = f"pytest {case.get('classname', '')}.{case.get('name', '')}"
        if case.find("failure") is not None or case.find("error") is not None:
            results[name] = ("failed", "")
        elif (skipped := case.find("skipped")) is not None:
            results[name] = ("skipped", skipped.get("message", ""))
        else:
            results[name] = ("passed", "")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xctest", action="append", default=[])
    parser.add_argument("--junit", nargs="*", default=[])
    parser.add_argument("--check", action="append", default=[], help="NAME=EXIT_STATUS")
    args = parser.parse_args()

    results: dict[str, tuple[str, str]] = {}
    for path in args.xctest:
        try:
            xctest(path, results)
        except OSError as error:
            results[f"swift {path}"] = ("failed", str(error))
    for path in args.junit:
        junit(path, results)
    for check in args.check:
        name, _, status = check.partition("=")
        results[f"check {name}"] = ("passed" if status == "0" else "failed", "")

    passed = sum(1 for outcome, _ in results.values() if outcome == "passed")
    failed = [name for name, (outcome, _) in results.items() if outcome == "failed"]
    hardware, unexplained = [], []
    for name, (outcome, reason) in results.items():
        if outcome == "skipped":
            (hardware if reason.startswith("hardware:") else unexplained).append(f"{name}: {reason or '(no reason)'}")
    for line in hardware:
        print(f"  skipped  {line}")
    for line in unexplained:
        print(f"  SKIPPED WITHOUT A HARDWARE REASON (counted as failed)  {line}")
    for name in failed:
        print(f"  FAILED   {name}")
    total_failed = len(failed) + len(unexplained)
    print(f"== make test: {passed} passed, {total_failed} failed, {len(hardware)} skipped (hardware)")
    return 1 if total_failed or not results else 0


if __name__ == "__main__":
    sys.exit(main())
