#!/usr/bin/env python3
"""Builds the operation tables the Shipshape harness measures its coverage
against, from the upstream Engine API specs: specs/coverage/v<version>.json.

Usage (from the repo root, needs PyYAML):
    python3 specs/coverage/generate.py /path/to/shared/upstream-api

One entry per operation of the spec (every method of every path):
method, path template, operationId, tag (the spec's group), the names of
its query parameters, the names of its body fields (the top-level
properties of the body schema, following $ref and allOf; none when the
body is not a JSON object, e.g. a tar stream) and its documented status
codes. Path and header parameters are not listed: a path parameter is
always sent, and headers are not what the coverage counts.
The output is deterministic (spec order, sorted names) and committed, so
the harness can embed it; rerun after changing this script.
"""
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
VERSIONS = ("1.41", "1.50")
METHODS = ("get", "put", "post", "delete", "options", "head", "patch")


def properties(spec, node, depth=0):
    """Top-level property names of a schema, through $ref and allOf."""
    if depth > 12 or not isinstance(node, dict):
        return set()
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return properties(spec, spec["definitions"][name], depth + 1)
    out = set(node.get("properties", {}))
    for part in node.get("allOf", []):
        out |= properties(spec, part, depth + 1)
    return out


def operations(spec):
    ops = []
    for path, item in spec["paths"].items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            params = shared + op.get("parameters", [])
            query = sorted({p["name"] for p in params if p.get("in") == "query"})
            body = set()
            for p in params:
                if p.get("in") == "body":
                    body |= properties(spec, p.get("schema", {}))
            statuses = sorted(int(s) for s in op.get("responses", {}) if str(s).isdigit())
            ops.append(
                {
                    "operation": op["operationId"],
                    "method": method.upper(),
                    "path": path,
                    "tag": (op.get("tags") or ["(none)"])[0],
                    "query": query,
                    "body": sorted(body),
                    "statuses": statuses,
                }
            )
    return ops


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    for version in VERSIONS:
        src = os.path.join(sys.argv[1], f"engine-api-v{version}.yaml")
        with open(src) as f:
            spec = yaml.safe_load(f)
        table = {
            "version": version,
            "source": os.path.basename(src),
            "operations": operations(spec),
        }
        dst = os.path.join(HERE, f"v{version}.json")
        with open(dst, "w") as f:
            json.dump(table, f, indent=1)
            f.write("\n")
        print(f"{dst}: {len(table['operations'])} operations")


if __name__ == "__main__":
    main()
