"""One test per rule of the hub's security layer, through the real HTTP path (docs/hub-security.md).

Each feeds the bad input, checks the status and error code, that nothing became
visible, and that the refusal is in the audit log.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import httpx
import pytest

from muse.committing import commit_worktree
from muse.errors import UsageError
from muse.keys import default_key
from muse.repo import Repository
from muse.transfer import push
from remotes.hub.cli import parse_size
from remotes.hub.purge import rewrite_without
from remotes.hub.takedown import purge, restore, take_down
from tests.hub.conftest import hub_remote
from tests.hub.security_support import admin, error_of, inline_push, presign, state
from tests.hub_server import HubServer, NewRepo
from tests.remotes.remote_support import MAIN, commit_files, new_repo, write_push_bundle
from tests.testkit import MuseRunner


def _audited(server: HubServer, repo: NewRepo, code: str) -> bool:
    _, _, rows = admin(server, repo)
    return any(e.action == "push-refused" and e.target == code
               for e in rows.audit(repo=f"{repo.owner}/{repo.name}"))


def _bundle(local: Repository, tmp_path: Path, name: str = "b.bundle") -> tuple[bytes, str]:
    head = local.head()
    assert head is not None
    return write_push_bundle(local, tmp_path / name, head, None).path.read_bytes(), head


def test_size_gates_refuse_declared_and_actual_sizes(tmp_path: Path, hub_server: HubServer,
                                                     hub_repo: NewRepo,
                                                     seeded_local: Repository) -> None:
    _, repo, rows = admin(hub_server, hub_repo)
    data, head = _bundle(seeded_local, tmp_path)
    before = state(hub_server, hub_repo)
    rows.set_repo_rule(repo, "max_bundle_bytes", len(data) - 1)
    declared = presign(hub_repo, len(data))  # refused before a byte is sent
    assert declared.status_code == 413 and error_of(declared)["code"] == "too-large"
    actual = inline_push(hub_repo, data, head)
    assert actual.status_code == 413 and error_of(actual)["code"] == "too-large"
    rows.set_repo_rule(repo, "max_bundle_bytes", None)

    rows.set_repo_rule(repo, "max_object_bytes", 1000)  # stems/a.wav is 5,004 bytes
    answer = inline_push(hub_repo, data, head)
    assert answer.status_code == 413 and error_of(answer)["code"] == "object-too-large"
    rows.set_repo_rule(repo, "max_object_bytes", None)

    rows.set_repo_rule(repo, "max_repo_bytes", len(data) // 2)
    whole = presign(hub_repo, len(data))
    assert whole.status_code == 413 and error_of(whole)["code"] == "repo-too-large"
    assert state(hub_server, hub_repo) == before
    assert _audited(hub_server, hub_repo, "too-large")
    assert _audited(hub_server, hub_repo, "repo-too-large")


def test_hub_wide_limits_apply_where_a_repository_sets_none(hub_server: HubServer,
                                                            hub_repo: NewRepo) -> None:
    _, _, rows = admin(hub_server, hub_repo)
    rows.set_hub_setting("max_bundle_bytes", 100)
    try:
        answer = presign(hub_repo, 101)
        assert answer.status_code == 413 and "at most 100" in error_of(answer)["message"]
        assert presign(hub_repo, 100).status_code == 200
    finally:
        rows.set_hub_setting("max_bundle_bytes", None)


def test_daily_quotas_refuse_with_429_and_retry_after(tmp_path: Path, hub_server: HubServer,
                                                      hub_repo: NewRepo,
                                                      seeded_local: Repository) -> None:
    _, repo, rows = admin(hub_server, hub_repo)
    data, head = _bundle(seeded_local, tmp_path)
    rows.set_repo_rule(repo, "daily_bytes", len(data) + 10)
    assert inline_push(hub_repo, data, head).status_code == 200  # counted: little is left
    after = state(hub_server, hub_repo)
    answer = presign(hub_repo, 11)
    assert answer.status_code == 429 and error_of(answer)["code"] == "quota-exceeded"
    assert 0 < int(answer.headers["Retry-After"]) <= 86400
    assert presign(hub_repo, 10).status_code == 200  # exactly what is left still fits
    assert state(hub_server, hub_repo) == after
    assert _audited(hub_server, hub_repo, "quota-exceeded")


def test_a_user_quota_spans_repositories(tmp_path: Path, hub_server: HubServer,
                                         seeded_local: Repository) -> None:
    first = hub_server.new_repo()
    second = hub_server.new_repo(owner=first.owner)
    _, _, rows = admin(hub_server, first)
    data, head = _bundle(seeded_local, tmp_path)
    rows.set_hub_setting("daily_user_bytes", len(data) + 5)
    try:
        assert inline_push(first, data, head).status_code == 200
        answer = presign(second, 6)
        assert answer.status_code == 429 and f"user {first.owner}" in error_of(answer)["message"]
    finally:
        rows.set_hub_setting("daily_user_bytes", None)


def test_push_requests_are_rate_limited_per_token(hub_server: HubServer,
                                                  hub_repo: NewRepo) -> None:
    _, _, rows = admin(hub_server, hub_repo)
    rows.set_hub_setting("pushes_per_minute", 3)
    try:
        codes = [presign(hub_repo, 10).status_code for _ in range(6)]
        # A minute boundary may fall inside the loop: then the count starts again.
        assert (codes.count(429) >= 2 and codes[:3] == [200, 200, 200]) or codes.count(429) >= 1
        limited = presign(hub_repo, 10)
        if limited.status_code == 429:
            assert error_of(limited)["code"] == "rate-limited"
            assert int(limited.headers["Retry-After"]) <= 60
        other = hub_server.new_repo()
        assert presign(other, 10).status_code == 200  # another token has its own count
    finally:
        rows.set_hub_setting("pushes_per_minute", None)


def test_the_default_policy_refuses_unsigned_commits(tmp_path: Path, hub_server: HubServer,
                                                     hub_repo: NewRepo,
                                                     muse_home: Path) -> None:
    local = new_repo(tmp_path / "unsigned")
    (local.root or tmp_path).joinpath("a.txt").write_text("take\n")
    commit = commit_worktree(local, "unsigned take", sign=False)
    data, head = _bundle(local, tmp_path)
    before = state(hub_server, hub_repo)
    answer = inline_push(hub_repo, data, head)
    assert answer.status_code == 422 and error_of(answer)["code"] == "unsigned"
    assert commit.id in error_of(answer)["message"]
    assert state(hub_server, hub_repo) == before
    _, repo, rows = admin(hub_server, hub_repo)
    assert rows.repo_rules(repo).signatures == "signed"  # the default of a new repository
    rows.set_repo_rule(repo, "signatures", "any")
    assert inline_push(hub_repo, data, head).status_code == 200


def test_registered_keys_only_names_the_commit_and_the_key(tmp_path: Path,
                                                           hub_server: HubServer,
                                                           hub_repo: NewRepo,
                                                           seeded_local: Repository) -> None:
    _, repo, rows = admin(hub_server, hub_repo)
    rows.set_repo_rule(repo, "signatures", "registered")
    data, head = _bundle(seeded_local, tmp_path)
    before = state(hub_server, hub_repo)
    answer = inline_push(hub_repo, data, head)
    error = error_of(answer)
    signer = default_key()
    assert answer.status_code == 422 and error["code"] == "untrusted-signer"
    assert head in error["message"] and signer.fingerprint in error["message"]
    assert "muse hub key add" in error["hint"]
    assert state(hub_server, hub_repo) == before
    rows.add_key(hub_repo.owner, signer.fingerprint, signer.public_key)
    assert inline_push(hub_repo, data, head).status_code == 200


def test_a_blocked_id_is_refused_on_push_and_never_served(tmp_path: Path,
                                                          hub_server: HubServer,
                                                          seeded_local: Repository) -> None:
    clean = hub_server.new_repo()
    data, head = _bundle(seeded_local, tmp_path)
    assert inline_push(clean, data, head).status_code == 200  # before the block
    stem = hashlib.sha256(b"RIFF" + bytes(5000)).hexdigest()
    _, _, rows = admin(hub_server, clean)
    assert rows.block(stem, "known bad file", "test")
    try:
        fresh = hub_server.new_repo()
        before = state(hub_server, fresh)
        answer = inline_push(fresh, data, head)
        assert answer.status_code == 451 and error_of(answer)["code"] == "blocked"
        assert state(hub_server, fresh) == before and _audited(hub_server, fresh, "blocked")
        fresh_id = admin(hub_server, fresh)[1].id
        assert not [q for q in rows.quarantined() if q.repo_id == fresh_id]  # refused by rule
        auth = {"Authorization": f"Bearer {clean.read_token}"}
        fetched = httpx.post(f"{clean.api}/fetch", headers=auth, json={"wants": [head]})
        assert fetched.status_code == 451 and error_of(fetched)["code"] == "blocked"
        (pack,) = admin(hub_server, clean)[0].index.pack_rows(admin(hub_server, clean)[1])
        served = httpx.get(f"{clean.api}/packs/{pack}", headers=auth)
        assert served.status_code == 451
    finally:
        rows.unblock(stem)


def test_a_bundle_failing_verification_is_quarantined_with_a_record(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository) -> None:
    data, head = _bundle(seeded_local, tmp_path)
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 1
    before = state(hub_server, hub_repo)
    answer = inline_push(hub_repo, bytes(bad), head)
    error = error_of(answer)
    assert answer.status_code == 422 and error["quarantine_id"]
    assert state(hub_server, hub_repo) == before
    hub, repo, rows = admin(hub_server, hub_repo)
    (record,) = [q for q in rows.quarantined() if q.id == error["quarantine_id"]]
    assert record.repo_id == repo.id and record.user == hub_repo.owner
    assert record.code == error["code"] and record.size == len(bad)
    assert record.blob_key is not None
    with hub.blobs.open_key(record.blob_key) as kept:
        assert kept.read() == bytes(bad)  # the bytes, for inspection
    assert _audited(hub_server, hub_repo, error["code"])


def test_a_repository_taken_down_answers_451_until_restored(tmp_path: Path,
                                                            hub_server: HubServer,
                                                            hub_repo: NewRepo,
                                                            seeded_local: Repository) -> None:
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    hub, repo, rows = admin(hub_server, hub_repo)
    take_down(hub, repo, [], notice="N-1", claimant="Label", noticed="2026-12-01",
              text="whole repository")
    auth = {"Authorization": f"Bearer {hub_repo.read_token}"}
    answer = httpx.get(f"{hub_repo.api}/refs", headers=auth)
    assert answer.status_code == 451 and "N-1" in error_of(answer)["message"]
    assert error_of(answer)["code"] == "taken-down"
    restore(hub, "N-1")
    assert httpx.get(f"{hub_repo.api}/refs", headers=auth).status_code == 200
    actions = [e.action for e in rows.audit(repo=f"{hub_repo.owner}/{hub_repo.name}")]
    assert "takedown-hide" in actions and "takedown-restore" in actions


def test_taken_down_objects_hide_their_history_and_a_purge_rewrites_the_pack(
        tmp_path: Path, hub_server: HubServer, hub_repo: NewRepo,
        seeded_local: Repository, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MUSE_TOKEN", hub_repo.read_token)
    push(seeded_local, hub_remote(hub_repo), [(MAIN, MAIN)])
    other = new_repo(tmp_path / "other")
    commit_files(other, {"clean.txt": b"a clean history\n"}, "clean")
    push(other, hub_remote(hub_repo), [(MAIN, "refs/heads/clean")])
    stem = hashlib.sha256(b"RIFF" + bytes(5000)).hexdigest()
    hub, repo, rows = admin(hub_server, hub_repo)
    take_down(hub, repo, [stem], notice="N-2", claimant="Label", noticed="2026-12-01",
              text="one stem")
    main_head = seeded_local.head()
    auth = {"Authorization": f"Bearer {hub_repo.read_token}"}
    refused = httpx.post(f"{hub_repo.api}/fetch", headers=auth, json={"wants": [main_head]})
    assert refused.status_code == 451 and "N-2" in error_of(refused)["message"]
    fine = httpx.post(f"{hub_repo.api}/fetch", headers=auth, json={"wants": [other.head()]})
    assert fine.status_code == 200  # the history that does not need it stays fetchable

    (old_pack,) = [p for p in hub.index.pack_rows(repo)
                   if main_head in {c for c, (pk, _) in hub.index.commit_graph(repo).items()
                                    if pk == p}]
    touched = purge(hub, "N-2")
    assert touched == [old_pack] and not hub.blobs.exists(old_pack)
    notice = rows.takedown("N-2")
    assert notice is not None and notice.state == "purged" and len(notice.packs) == 1
    with hub.blobs.open(notice.packs[0]) as rewritten:
        assert b"RIFF" + bytes(5000) not in rewritten.read()  # the bytes are gone
    assert hub.index.objects(repo).missing([stem, main_head or ""]) == {stem}
    assert httpx.post(f"{hub_repo.api}/fetch", headers=auth,
                      json={"wants": [main_head]}).status_code == 451
    with pytest.raises(UsageError, match="purged"):
        restore(hub, "N-2")


def test_a_rewritten_pack_keeps_everything_but_the_dropped_objects(
        tmp_path: Path, seeded_local: Repository) -> None:
    _bundle(seeded_local, tmp_path)
    stem = hashlib.sha256(b"RIFF" + bytes(5000)).hexdigest()
    summary, parents = rewrite_without(tmp_path / "b.bundle", {stem}, tmp_path / "out.bundle")
    kept = {e.oid for e in summary.entries}
    assert stem not in kept and hashlib.sha256(b"MThd-verse").hexdigest() in kept
    assert set(parents) == {seeded_local.head()}


def test_every_admin_action_is_audited(tmp_path: Path, hub_server: HubServer,
                                       muse: MuseRunner, monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in hub_server.storage.env.items():
        monkeypatch.setenv(name, value)  # the blob store's credentials, as a shell has them
    storage = hub_server.storage.args()
    steps = [("user", "add", "auditee"), ("repo", "create", "auditee/song"),
             ("repo", "set", "auditee/song", "--signatures", "any", "--max-repo-bytes", "1G"),
             ("token", "create", "--repo", "auditee/song"),
             ("block", "b" * 64, "--reason", "test"), ("unblock", "b" * 64),
             ("settings", "--pushes-per-minute", "500")]
    for args in steps:
        done = muse("hub", *args, *storage, cwd=tmp_path)
        assert done.exit_code == 0, (args, done.stderr)
    listed = muse("hub", "audit", "--limit", "50", "--json", *storage, cwd=tmp_path)
    import json

    actions = [e["action"] for e in json.loads(listed.stdout)]
    for action in ("user-add", "repo-create", "repo-set", "token-create", "block", "unblock",
                   "hub-settings"):
        assert action in actions
    muse("hub", "settings", "--pushes-per-minute", "none", *storage, cwd=tmp_path)


@pytest.mark.parametrize("text,value", [("5000", 5000), ("2K", 2048), ("3M", 3 << 20),
                                        ("1g", 1 << 30), ("none", None)])
def test_sizes_read_as_people_write_them(text: str, value: int | None) -> None:
    assert parse_size(text) == value


def test_a_bad_size_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="invalid size"):
        parse_size("12 parsecs")


def test_the_client_reports_refusals_with_their_code_and_exit(tmp_path: Path,
                                                              hub_server: HubServer,
                                                              hub_repo: NewRepo,
                                                              seeded_local: Repository) -> None:
    from muse.errors import MuseError

    _, repo, rows = admin(hub_server, hub_repo)
    rows.set_repo_rule(repo, "daily_bytes", 10)
    with pytest.raises(MuseError) as caught:
        push(seeded_local, hub_remote(hub_repo, inline=0), [(MAIN, MAIN)])
    assert caught.value.code == "quota-exceeded" and caught.value.exit_code == 6
    assert caught.value.hint is not None and "retry in" in caught.value.hint
    rows.set_repo_rule(repo, "daily_bytes", None)
    rows.set_repo_rule(repo, "max_repo_bytes", 10)
    with pytest.raises(MuseError) as caught:
        push(seeded_local, hub_remote(hub_repo, inline=0), [(MAIN, MAIN)])
    assert caught.value.code == "repo-too-large" and caught.value.exit_code == 5
    assert hub_remote(hub_repo).list_refs() == {}
