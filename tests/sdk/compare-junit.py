#!/usr/bin/env python3
"""Compares two JUnit XML reports of the same suite (a reference daemon and
the engine): how many pass on each, and which tests pass on the reference
but not on the engine.

    tests/sdk/compare-junit.py REFERENCE.xml ENGINE.xml
"""
import sys
import xml.etree.ElementTree as ET


def outcomes(path):
    res = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        name = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        if kinds & {"failure", "error"}:
            res[name] = "fail"
        elif "skipped" in kinds:
            res[name] = "skip"
        else:
            res[name] = "pass"
    return res


def main():
    ref, eng = outcomes(sys.argv[1]), outcomes(sys.argv[2])
    ref_pass = {n for n, o in ref.items() if o == "pass"}
    eng_pass = {n for n, o in eng.items() if o == "pass"}
    print(f"reference: {len(ref_pass)} pass of {len(ref)}")
    print(f"engine:    {len(eng_pass)} pass of {len(eng)}")
    both = ref_pass & eng_pass
    print(f"engine passes {len(both)} of the {len(ref_pass)} that pass on the reference")
    for n in sorted(ref_pass - eng_pass):
        print(f"  {eng.get(n, 'missing')}: {n}")
    return 0 if ref_pass <= eng_pass else 1


if __name__ == "__main__":
    sys.exit(main())
