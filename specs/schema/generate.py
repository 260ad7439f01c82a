#!/usr/bin/env python3
"""Extracts the response schemas the Shipshape harness checks from the
upstream Engine API specs and writes specs/schema/v<version>.json.

Usage (from the repo root, needs PyYAML):
    python3 specs/schema/generate.py /path/to/shared/upstream-api

For each response the harness validates it takes the schema the spec gives
(following $ref, keeping only type, properties, required, enum, items,
additionalProperties and x-nullable), then applies dockerd.json: what
dockerd 20.10.24 really sends where it departs from the spec (fields the
spec marks required but dockerd omits, fields it sends as null) and the ID
formats the spec states only in prose (image IDs carry `sha256:`).
The output is deterministic (sorted keys) and committed; rerun after
changing this script or dockerd.json.
"""
import json
import os
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))

# Harness name -> (path, method, status) whose response schema to extract.
RESPONSES = {
    "ContainerInspect": ("/containers/{id}/json", "get", 200),
    "ContainerCreateResponse": ("/containers/create", "post", 201),
    "ContainerWaitResponse": ("/containers/{id}/wait", "post", 200),
    "ContainerList": ("/containers/json", "get", 200),
    "IdResponse": ("/commit", "post", 201),
    "ExecInspectResponse": ("/exec/{id}/json", "get", 200),
    "ImageInspect": ("/images/{name}/json", "get", 200),
    "ImageList": ("/images/json", "get", 200),
    "ImageDeleteResponse": ("/images/{name}", "delete", 200),
    "Volume": ("/volumes/create", "post", 201),
    "VolumeList": ("/volumes", "get", 200),
    "SystemVersion": ("/version", "get", 200),
    "SystemInfo": ("/info", "get", 200),
    "ErrorResponse": ("/containers/{id}/json", "get", 404),
}

KEEP = ("type", "required", "enum", "x-nullable", "format")


def resolve(spec, node, depth=0):
    if depth > 12:
        return {}
    if "$ref" in node:
        name = node["$ref"].split("/")[-1]
        return resolve(spec, spec["definitions"][name], depth + 1)
    out = {k: node[k] for k in KEEP if k in node}
    if "allOf" in node:
        parts = [resolve(spec, part, depth + 1) for part in node["allOf"]]
        if any("properties" in r for r in parts):
            merged = {"type": "object", "properties": {}, "required": []}
            for r in parts:
                merged["properties"].update(r.get("properties", {}))
                merged["required"] += r.get("required", [])
            out.update(merged)
        else:
            # allOf over a scalar definition (e.g. MountType): its constraints.
            for r in parts:
                out.update(r)
    if "properties" in node:
        out["type"] = out.get("type", "object")
        out["properties"] = {
            k: resolve(spec, v, depth + 1) for k, v in node["properties"].items()
        }
    if "items" in node:
        out["items"] = resolve(spec, node["items"], depth + 1)
    ap = node.get("additionalProperties")
    if isinstance(ap, dict):
        out["additionalProperties"] = resolve(spec, ap, depth + 1)
    if not out.get("required"):
        out.pop("required", None)
    return out


def walk(schema, path):
    """The sub-schema at a dotted path (`[]` steps into array items)."""
    node = schema
    for part in path.split("."):
        if part == "":
            continue
        if part == "[]":
            node = node.setdefault("items", {})
        else:
            node = node.setdefault("properties", {}).setdefault(part, {})
    return node


def apply_overrides(schemas, overrides, version):
    for name, changes in overrides.items():
        if name.startswith("_"):
            continue
        s = schemas.get(name)
        if s is None:
            continue
        for ch in changes:
            if "since" in ch and version_key(version) < version_key(ch["since"]):
                continue
            if "until" in ch and version_key(version) > version_key(ch["until"]):
                continue
            parent, _, field = ch["field"].rpartition(".")
            node = walk(s, parent)
            if ch.get("not_required"):
                node["required"] = [r for r in node.get("required", []) if r != field]
                if not node["required"]:
                    node.pop("required")
            target = walk(s, ch["field"])
            for k in ("pattern", "enum", "x-nullable", "type", "x-dockerd"):
                if k in ch:
                    target[k] = ch[k]
            if ch.get("required"):
                node.setdefault("required", [])
                if field not in node["required"]:
                    node["required"].append(field)


def version_key(v):
    a, b = v.split(".")
    return (int(a), int(b))


def main():
    upstream = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        HERE, "..", "..", "..", "shared", "upstream-api")
    with open(os.path.join(HERE, "dockerd.json")) as f:
        overrides = json.load(f)
    for version in ("1.41", "1.50"):
        with open(os.path.join(upstream, f"engine-api-v{version}.yaml")) as f:
            spec = yaml.safe_load(f)
        schemas = {}
        for name, (path, method, status) in RESPONSES.items():
            resp = spec["paths"][path][method]["responses"].get(status)
            if resp is None or "schema" not in resp:
                continue
            schemas[name] = resolve(spec, resp["schema"])
        apply_overrides(schemas, overrides, version)
        doc = {
            "about": f"Response schemas for Engine API v{version}, extracted from the "
                     f"upstream engine-api-v{version}.yaml by specs/schema/generate.py and "
                     "adjusted by specs/schema/dockerd.json to what dockerd 20.10.24 sends. "
                     "Objects are open (extra fields allowed); null is accepted for "
                     "objects and arrays (Go nil maps and slices) and for fields marked "
                     "x-nullable.",
            "version": version,
            "schemas": schemas,
        }
        out = os.path.join(HERE, f"v{version}.json")
        with open(out, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
            f.write("\n")
        print(f"wrote {out}: {len(schemas)} schemas")


if __name__ == "__main__":
    main()
