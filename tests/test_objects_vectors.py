"""The golden vectors in docs/objects.md, recomputed from their inputs with Muse's code."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from muse.keys import signature_status
from muse.objects import (
    Commit,
    Snapshot,
    SnapshotEntry,
    Tag,
    decode_commit,
    decode_snapshot,
    decode_tag,
    hash_bytes,
    object_kind,
)

DOC = Path(__file__).resolve().parent.parent / "docs" / "objects.md"
_BLOCK = re.compile(r"^```vector (\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _parse_block(body: str) -> dict[str, list[str]]:
    """`key: value` lines; indented lines continue the previous value (wrapped hex)."""
    fields: dict[str, list[str]] = {}
    last = None
    for line in body.splitlines():
        if line.startswith("  ") and last is not None:
            fields[last][-1] += line.strip()
            continue
        key, _, value = line.partition(":")
        fields.setdefault(key, []).append(value.strip())
        last = key
    return fields


@pytest.fixture(scope="module")
def vectors() -> dict[str, dict[str, str]]:
    found = {name: _parse_block(body) for name, body in _BLOCK.findall(DOC.read_text())}
    assert set(found) == {"blob", "blob2", "snapshot", "commit_unsigned", "commit_signed",
                          "tag_signed", "tag_of_tag"}
    single = {name: {k: v[-1] for k, v in block.items()} for name, block in found.items()}
    single["snapshot"]["entries"] = "\n".join(found["snapshot"]["entry"])
    return single


def _text(value: str) -> str:
    return value.replace("\\n", "\n")


def _commit_from(doc: dict[str, str], signer: bytes | None = None) -> Commit:
    return Commit(
        snapshot=doc["snapshot"],
        parents=tuple(p for p in doc["parents"].split() if p),
        author_name=doc["author_name"],
        author_email=doc["author_email"],
        timestamp=int(doc["timestamp"]),
        tz_offset_minutes=int(doc["tz_offset_minutes"]),
        message=_text(doc["message"]),
        signer=signer,
    )


def test_blob_vectors_match_hashlib_and_sha256sum(vectors: dict[str, dict[str, str]],
                                                   tmp_path: Path) -> None:
    assert bytes.fromhex(vectors["blob"]["content"]) == b"Hello, Muse!\n"
    assert bytes.fromhex(vectors["blob2"]["content"]) == b"#!/bin/sh\necho render\n"
    for name in ("blob", "blob2"):
        content = bytes.fromhex(vectors[name]["content"])
        assert hash_bytes(content) == vectors[name]["id"]
        assert hashlib.sha256(content).hexdigest() == vectors[name]["id"]
        assert object_kind(content) == "blob"
        sha256sum = shutil.which("sha256sum")
        assert sha256sum is not None
        path = tmp_path / name
        path.write_bytes(content)
        printed = subprocess.run([sha256sum, str(path)], capture_output=True, text=True,
                                 check=True).stdout.split()[0]
        assert printed == vectors[name]["id"]


def test_snapshot_vector(vectors: dict[str, dict[str, str]]) -> None:
    doc = vectors["snapshot"]
    entries = []
    for line in doc["entries"].splitlines():
        path, oid, size, executable = line.split()
        entries.append(SnapshotEntry(path, oid, int(size), executable == "true"))
    assert entries[0].oid == vectors["blob"]["id"]
    assert entries[1].oid == vectors["blob2"]["id"]
    # Built in the wrong order on purpose: the encoding sorts entries by path.
    snapshot = Snapshot.from_entries(reversed(entries))
    assert snapshot.encode().hex() == doc["encoding"]
    assert snapshot.id == doc["id"]
    assert hashlib.sha256(bytes.fromhex(doc["encoding"])).hexdigest() == doc["id"]
    assert decode_snapshot(bytes.fromhex(doc["encoding"])) == snapshot


def test_unsigned_commit_vector(vectors: dict[str, dict[str, str]]) -> None:
    doc = vectors["commit_unsigned"]
    assert doc["snapshot"] == vectors["snapshot"]["id"]
    commit = _commit_from(doc)
    assert commit.encode().hex() == doc["encoding"]
    assert commit.id == doc["id"]
    assert hashlib.sha256(bytes.fromhex(doc["encoding"])).hexdigest() == doc["id"]
    assert decode_commit(bytes.fromhex(doc["encoding"])) == commit
    assert signature_status(commit) == "unsigned"


def test_signed_commit_vector(vectors: dict[str, dict[str, str]]) -> None:
    doc = vectors["commit_signed"]
    seed = bytes.fromhex(doc["seed"])
    assert seed == bytes(range(1, 33))
    key = Ed25519PrivateKey.from_private_bytes(seed)
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    assert public.hex() == doc["public_key"]
    assert doc["parents"] == vectors["commit_unsigned"]["id"]
    unsigned = _commit_from(doc, signer=public)
    assert unsigned.signed_payload().hex() == doc["signed_payload"]
    signature = key.sign(unsigned.signed_payload())
    assert signature.hex() == doc["signature"]
    commit = replace(unsigned, signature=signature)
    assert commit.encode().hex() == doc["encoding"]
    assert commit.id == doc["id"]
    assert hashlib.sha256(bytes.fromhex(doc["encoding"])).hexdigest() == doc["id"]
    decoded = decode_commit(bytes.fromhex(doc["encoding"]))
    assert decoded == commit
    assert signature_status(decoded) == "good"
    # The payload is the full encoding minus the signature: 10 fields, not 11.
    assert bytes.fromhex(doc["signed_payload"])[0] == 0x9A
    assert bytes.fromhex(doc["encoding"])[0] == 0x9B


def test_flipping_a_signature_bit_keeps_decoding_but_fails_verification(
        vectors: dict[str, dict[str, str]]) -> None:
    raw = bytearray(bytes.fromhex(vectors["commit_signed"]["encoding"]))
    raw[-1] ^= 0x01
    tampered = decode_commit(bytes(raw))
    assert signature_status(tampered) == "bad"
    assert tampered.id != vectors["commit_signed"]["id"]


def _check_tag_vector(doc: dict[str, str]) -> Tag:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(doc["seed"]))
    public = key.public_key().public_bytes(serialization.Encoding.Raw,
                                           serialization.PublicFormat.Raw)
    unsigned = Tag(target=doc["target"], target_kind=doc["target_kind"], name=doc["name"],
                   tagger_name=doc["tagger_name"], tagger_email=doc["tagger_email"],
                   timestamp=int(doc["timestamp"]),
                   tz_offset_minutes=int(doc["tz_offset_minutes"]),
                   message=_text(doc["message"]), signer=public)
    assert unsigned.signed_payload().hex() == doc["signed_payload"]
    signature = key.sign(unsigned.signed_payload())
    assert signature.hex() == doc["signature"]
    tag = replace(unsigned, signature=signature)
    assert tag.encode().hex() == doc["encoding"]
    assert tag.id == doc["id"]
    assert hashlib.sha256(bytes.fromhex(doc["encoding"])).hexdigest() == doc["id"]
    decoded = decode_tag(bytes.fromhex(doc["encoding"]))
    assert decoded == tag
    assert signature_status(decoded) == "good"
    assert object_kind(bytes.fromhex(doc["encoding"])) == "tag"
    return decoded


def test_signed_tag_vector(vectors: dict[str, dict[str, str]]) -> None:
    doc = vectors["tag_signed"]
    assert doc["target"] == vectors["commit_signed"]["id"]
    assert _check_tag_vector(doc).target_kind == "commit"
    assert object_kind(bytes.fromhex(vectors["commit_signed"]["encoding"])) == "commit"


def test_tag_of_tag_vector(vectors: dict[str, dict[str, str]]) -> None:
    doc = vectors["tag_of_tag"]
    assert doc["target"] == vectors["tag_signed"]["id"]  # the tag object, not its commit
    decoded = _check_tag_vector(doc)
    assert decoded.target_kind == "tag"
    # The kind is signed: calling the target a commit breaks the signature.
    assert signature_status(replace(decoded, target_kind="commit")) == "bad"
