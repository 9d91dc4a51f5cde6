#!/usr/bin/env python3
"""Writes the committed seed sets under fuzz/seeds/<target>/:

    python3 fuzz/gen_seeds.py

Deterministic (fixed timestamps): running it again rewrites the same files.
Bundles are built the way tests/support/mod.rs `write_bundle` does (a valid
manifest with true hashes, entries under one top folder), plus hostile
variants; the redaction seeds are small realistic files behind the 3-byte
header the targets read (selector, insertion position, little-endian).
Python rather than a Rust example: no second build of sg-debug's
dependency tree just to write a few files.
"""

import hashlib
import io
import json
import os
import struct
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = "sg-debug-search-20261125T040506Z"
WHEN = (2026, 11, 25, 4, 5, 6)


def seeds_dir(target):
    d = os.path.join(HERE, "seeds", target)
    os.makedirs(d, exist_ok=True)
    return d


def manifest(files):
    return json.dumps(
        {
            "format_version": 1,
            "tool": {"name": "sg-debug", "version": "0.1.0"},
            "created_at": "2026-11-25T04:05:06Z",
            "complete": True,
            "incident": {"category": "search"},
            "deployment": {"type": "unknown"},
            "options": {},
            "collectors": [],
            "files": [
                {
                    "path": p,
                    "bytes": len(b),
                    "sha256": hashlib.sha256(b).hexdigest(),
                    "kind": "log",
                    "collector": "test",
                    "redactions": {},
                }
                for p, b in files
            ],
        }
    ).encode()


def make_zip(entries, method=zipfile.ZIP_DEFLATED):
    """entries: (name, bytes[, unix_mode]) in order; names ending in / are dirs."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        for e in entries:
            name, body = e[0], e[1]
            info = zipfile.ZipInfo(name, WHEN)
            info.compress_type = method
            mode = e[2] if len(e) > 2 else (0o40755 if name.endswith("/") else 0o100644)
            info.external_attr = mode << 16
            info.create_system = 3
            z.writestr(info, body)
    return buf.getvalue()


def bundle(listed, held, method=zipfile.ZIP_DEFLATED):
    entries = [(f"{TOP}/manifest.json", manifest(listed))]
    entries += [(f"{TOP}/{p}", b) for p, b in held]
    return make_zip(entries, method)


def bundle_seeds():
    d = seeds_dir("bundle_reader")
    log = b"2026-11-25T04:05:06Z frontend started\nline two\n"
    cfg = b'{"externalURL": "https://sg.example.com"}\n'
    files = [("logs/frontend.log", log), ("config/site.json", cfg)]
    zeros = bytes(200_000)
    full = bundle(files, files)
    out = {
        "valid-deflated.zip": full,
        "valid-stored.zip": bundle(files, files, zipfile.ZIP_STORED),
        "valid-empty.zip": bundle([], []),
        "valid-nested.zip": bundle([("a/b/c/d/e.log", log)], [("a/b/c/d/e.log", log)]),
        # verify fails: a hash, a missing file, an unlisted file
        "bad-hash.zip": bundle([("logs/frontend.log", log)], [("logs/frontend.log", cfg)]),
        "missing-file.zip": bundle(files, files[:1]),
        "unlisted-file.zip": bundle(files[:1], files),
        # a file where extraction needs a directory
        "file-dir-conflict.zip": bundle(
            [("logs", log), ("logs/a.log", log)], [("logs", log), ("logs/a.log", log)]
        ),
        # directory entries, as from re-zipping an extracted bundle
        "directory-entries.zip": make_zip(
            [
                (f"{TOP}/", b""),
                (f"{TOP}/logs/", b""),
                (f"{TOP}/manifest.json", manifest(files[:1])),
                (f"{TOP}/logs/frontend.log", log),
            ]
        ),
        # names that must be refused
        "traversal.zip": make_zip(
            [(f"{TOP}/manifest.json", manifest([])), (f"{TOP}/../evil.log", log)]
        ),
        "absolute.zip": make_zip([("/tmp/sg-fuzz-evil/manifest.json", manifest([]))]),
        "two-tops.zip": make_zip(
            [(f"{TOP}/manifest.json", manifest([])), ("other/x.log", log)]
        ),
        "symlink.zip": make_zip(
            [(f"{TOP}/manifest.json", manifest([])), (f"{TOP}/link", b"/etc/passwd", 0o120777)]
        ),
        # a zip bomb in miniature
        "zeros.zip": bundle([("logs/zeros.log", zeros)], [("logs/zeros.log", zeros)]),
        "newer-format.zip": make_zip(
            [(f"{TOP}/manifest.json", b'{"format_version": 2, "files": []}')]
        ),
        "manifest-not-json.zip": make_zip([(f"{TOP}/manifest.json", b'{"format_version": 1,')]),
        # the central directory cut off
        "truncated.zip": full[:-30],
    }
    # two entries of one name (zipfile warns, and writes both)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out["duplicate-names.zip"] = make_zip(
            [
                (f"{TOP}/manifest.json", manifest(files[:1])),
                (f"{TOP}/logs/frontend.log", log),
                (f"{TOP}/logs/frontend.log", cfg),
            ],
            zipfile.ZIP_STORED,
        )
    for name, data in out.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)


def text_seed(sel, pos, text):
    return bytes([sel]) + struct.pack("<H", pos) + text.encode()


def write_text_seeds(target, seeds):
    d = seeds_dir(target)
    for name, sel, pos, text in seeds:
        with open(os.path.join(d, name), "wb") as f:
            f.write(text_seed(sel, pos, text))


def structured_seeds():
    # selector: low 2 bits 0 json, 1 yaml, 2 jsonc, 3 yml; the rest the shape
    write_text_seeds(
        "redact_structured",
        [
            ("object.json", 1 << 2, 1,
             '{\n  "externalURL": "https://sg.example.com",\n  "auth.providers": [{"type": "builtin"}]\n}\n'),
            ("env-list.json", 4 << 2, 1,
             '{"Config": {"Env": ["PGUSER=sg", "PGPASSWORD=hunter2-pg"]},\n "Args": []}\n'),
            ("nested-json-string.json", 1 << 2, 1,
             '{"metadata": {"annotations": {"last-applied": "{\\"token\\": \\"abc123def\\"}"}},\n"x": 1}\n'),
            ("site-config.jsonc", 2 | (1 << 2), 1,
             '{\n  // comment\n  "externalURL": "https://sg.example.com", /* c */\n  "licenseKey": "key-abc",\n}\n'),
            ("array.json", 3 << 2, 1, '[\n"redis-server", "--requirepass", "pw-123",\n1, true, null\n]\n'),
            ("secret.yaml", 1, 0,
             "apiVersion: v1\nkind: Secret\nmetadata:\n  name: pg\ndata:\n  password: aHVudGVyMg==\nstringData:\n  token: plain\n"),
            ("deployment.yaml", 1 | (4 << 2), 0,
             "spec:\n  containers:\n  - name: frontend\n    args: [--password, pw]\n    env:\n    - name: PGUSER\n      value: sg\n"),
            ("block.yaml", 1 | (3 << 2), 0, "description: |\n  line one\n  line two\nfolded: >\n  a\n  b\n"),
            ("anchors.yaml", 3 | (2 << 2), 0, "base: &b\n  host: db\nother:\n  <<: *b\n---\nsecond: doc\n"),
            ("flow.yml", 3 | (1 << 2), 5, "{a: [1, 2, {b: 'c'}], d: \"e\"}\n"),
        ],
    )


def line_seeds():
    # selector: low 2 bits the shape, next 2 how it is joined
    write_text_seeds(
        "redact_lines",
        [
            ("frontend.log", 0, 0,
             't=2026-11-25T04:05:06Z lvl=info msg="started"\nt=2026-11-25T04:05:07Z lvl=warn msg="slow" dur=1.2s\n'),
            ("json-lines.log", 3 | (1 << 2), 20,
             '{"level":"info","msg":"request","status":200}\n{"level":"error","err":"timeout"}\n'),
            ("http.log", 1 | (2 << 2), 10, "GET /api HTTP/1.1\nHost: sg.example.com\nCookie: session=abc\n"),
            ("dsn.log", 2, 5, "connecting to postgres://sg@pgsql:5432/sg?sslmode=disable\nredis://redis-store:6379\n"),
            ("pem.log", 1 << 2, 40,
             "key follows\n-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA\nabcdEFGH\n-----END RSA PRIVATE KEY-----\ndone\n"),
            ("kv.log", 2 << 2, 3, "user=admin host=db pass = ${PGPASS} token: true\nSRC_GIT_TOKEN=ghp_x retries=3\n"),
            ("escaped.log", 3, 7, '{"msg":"config {\\"password\\":\\"pw\\"}"}\n'),
            ("marker.log", 1 << 2, 0, "already [REDACTED:secret-key-name:1a2b3c4d] here\n"),
        ],
    )


def drift_seeds():
    # selector: bit 0 names the file docker-compose.yaml (1) or
    # upstream.yaml (0); the rest is the file. Upstream files come from
    # testdata/drift (derived from ../shared/upstream), read, not copied.
    d = seeds_dir("drift_manifests")
    root = os.path.join(HERE, "..", "testdata", "drift")
    k8s = os.path.join(root, "k8s-v6.12.5040", "base")

    def read(*parts):
        with open(os.path.join(*parts), encoding="utf-8") as f:
            return f.read()

    seeds = {
        "compose.yaml": (1, read(root, "compose", "docker-compose.yaml")),
        "compose-anchors-and-tags.yaml": (1,
            "x-common: &common\n  restart: always\n  environment:\n    - LOG=info\n"
            "services:\n  frontend:\n    <<: *common\n    image: sourcegraph/frontend:6.12.5040\n"
            "    ports: !reset []\n    environment: !override\n      A: 1\n"
            "  gitserver:\n    <<: [*common]\n    image: sourcegraph/gitserver:6.12.5040\n"
            "    volumes: ['gitserver-0:/data/repos']\nvolumes:\n  gitserver-0:\n"),
        "list.yaml": (0,
            "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Service\n"
            "  metadata: {name: a, labels: {app: a}}\n  spec: {ports: [{port: 80, targetPort: http}]}\n"
            "- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: b}\n  data: {x: '1'}\n"),
    }
    for rel in [
        "sourcegraph/blobstore/blobstore.PersistentVolumeClaim.yaml",
        "monitoring/grafana/grafana.ConfigMap.yaml",
        "monitoring/grafana/grafana.Service.yaml",
    ]:
        seeds[os.path.basename(rel)] = (0, read(k8s, rel))
    # A Deployment and a StatefulSet from the rendered v7 upstream.
    docs = read(root, "upstream-v7.2.1943.yaml").split("\n---\n")
    for kind in ["Deployment", "StatefulSet"]:
        doc = next(x for x in docs if f"\nkind: {kind}\n" in "\n" + x and len(x) < 6000)
        seeds[f"rendered-{kind}.yaml"] = (0, doc + "\n")
    for name, (sel, text) in seeds.items():
        with open(os.path.join(d, name), "wb") as f:
            f.write(bytes([sel]) + text.encode())


if __name__ == "__main__":
    bundle_seeds()
    structured_seeds()
    line_seeds()
    drift_seeds()
    print("seeds written under", os.path.join(HERE, "seeds"))
