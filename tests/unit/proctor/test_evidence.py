"""Envelope encryption with rotating master keys, and a hash chain that names tampering."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proctor.errors import EvidenceUnreadable, MasterKeyUnknown
from proctor.evidence import (
    ChainLink,
    ChainProblem,
    Keyring,
    WrappedKey,
    decrypt_item,
    encrypt_item,
    new_data_key,
    new_master_key,
    next_link,
    rewrap_data_key,
    seal_head,
    sha256_hex,
    unwrap_data_key,
    verify_chain,
)

ATTEMPT = "attempt-7"
OLD, NEW = new_master_key(), new_master_key()


def chain(n: int, attempt: str = ATTEMPT) -> tuple[list[ChainLink], dict[int, str | None]]:
    links: list[ChainLink] = []
    contents: dict[int, str | None] = {}
    for i in range(n):
        payload = f"frame {i}".encode()
        links.append(next_link(attempt, links[-1] if links else None, "frame", f"2026-06-01T10:00:{i:02d}Z", payload))
        contents[links[-1].seq] = sha256_hex(payload)
    return links, contents


def test_an_item_decrypts_only_for_its_attempt_and_position() -> None:
    ring = Keyring({"k1": OLD}, "k1")
    data_key, wrapped = new_data_key(ring, ATTEMPT)
    blob = encrypt_item(data_key, ATTEMPT, 3, b"jpeg bytes")
    assert b"jpeg bytes" not in blob
    assert decrypt_item(unwrap_data_key(ring, ATTEMPT, wrapped), ATTEMPT, 3, blob) == b"jpeg bytes"
    for attempt, seq in ((ATTEMPT, 4), ("attempt-8", 3)):
        with pytest.raises(EvidenceUnreadable) as caught:
            decrypt_item(data_key, attempt, seq, blob)
        assert caught.value.code == "evidence_unreadable"


def test_a_flipped_ciphertext_bit_is_detected() -> None:
    data_key, _ = new_data_key(Keyring({"k1": OLD}, "k1"), ATTEMPT)
    blob = bytearray(encrypt_item(data_key, ATTEMPT, 1, b"frame"))
    blob[-1] ^= 1
    with pytest.raises(EvidenceUnreadable):
        decrypt_item(data_key, ATTEMPT, 1, bytes(blob))


def test_a_data_key_wrapped_for_one_attempt_cannot_be_unwrapped_for_another() -> None:
    ring = Keyring({"k1": OLD}, "k1")
    _, wrapped = new_data_key(ring, ATTEMPT)
    with pytest.raises(EvidenceUnreadable) as caught:
        unwrap_data_key(ring, "attempt-8", wrapped)
    assert caught.value.code == "data_key_unreadable"


def test_rotating_the_master_key_rewraps_without_touching_the_blobs() -> None:
    old_ring = Keyring({"k1": OLD}, "k1")
    data_key, wrapped = new_data_key(old_ring, ATTEMPT)
    blob = encrypt_item(data_key, ATTEMPT, 1, b"frame one")
    rotating = Keyring({"k1": OLD, "k2": NEW}, "k2")
    rewrapped = WrappedKey.parse(str(rewrap_data_key(rotating, ATTEMPT, wrapped)))
    assert rewrapped.key_id == "k2" and rewrapped.blob != wrapped.blob
    new_only = Keyring({"k2": NEW}, "k2")
    assert decrypt_item(unwrap_data_key(new_only, ATTEMPT, rewrapped), ATTEMPT, 1, blob) == b"frame one"
    with pytest.raises(MasterKeyUnknown) as caught:
        unwrap_data_key(new_only, ATTEMPT, wrapped)
    assert caught.value.code == "master_key_unknown"
    assert rewrap_data_key(rotating, ATTEMPT, rewrapped) is rewrapped


def test_a_keyring_refuses_a_short_key_and_an_absent_current_key() -> None:
    with pytest.raises(MasterKeyUnknown):
        Keyring({"k1": b"short"}, "k1")
    with pytest.raises(MasterKeyUnknown):
        Keyring({"k1": OLD}, "k9")
    shown = repr(Keyring({"k1": OLD}, "k1"))
    assert OLD.hex() not in shown and repr(OLD) not in shown


def test_an_intact_chain_verifies_with_its_sealed_head() -> None:
    ring = Keyring({"k1": OLD}, "k1")
    links, contents = chain(5)
    verdict = verify_chain(ATTEMPT, links, contents, seal_head(ring, ATTEMPT, links[-1]), ring)
    assert (verdict.ok, verdict.checked, verdict.code, verdict.params) == (True, 5, "evidence_intact", {"count": 5})


def test_changed_content_names_the_altered_item() -> None:
    links, contents = chain(5)
    contents[3] = sha256_hex(b"another picture")
    verdict = verify_chain(ATTEMPT, links, contents)
    assert (verdict.ok, verdict.problem, verdict.seq) == (False, ChainProblem.ALTERED, 3)


def test_a_missing_blob_names_the_item() -> None:
    links, contents = chain(4)
    contents[2] = None
    assert (verify_chain(ATTEMPT, links, contents).problem, verify_chain(ATTEMPT, links, contents).seq) == (
        ChainProblem.ALTERED,
        2,
    )


def test_an_edited_record_names_the_altered_item() -> None:
    links, contents = chain(5)
    links[1] = dataclasses.replace(links[1], at="2026-06-01T09:00:00Z")
    verdict = verify_chain(ATTEMPT, links, contents)
    assert (verdict.problem, verdict.seq, verdict.msgid) == (ChainProblem.ALTERED, 2, "Evidence item {seq} was altered")


def test_an_edited_and_rehashed_record_is_caught_at_the_link_after_it() -> None:
    links, _ = chain(4)
    forged = next_link(ATTEMPT, links[0], "frame", links[1].at, b"forged")
    links[1] = forged
    verdict = verify_chain(ATTEMPT, links)
    assert (verdict.problem, verdict.seq) == (ChainProblem.ALTERED, 2)


def test_a_removed_item_is_named() -> None:
    links, contents = chain(6)
    del links[2]
    verdict = verify_chain(ATTEMPT, links, contents)
    assert (verdict.problem, verdict.seq) == (ChainProblem.REMOVED, 3)


def test_swapped_items_are_reported_as_reordered() -> None:
    links, contents = chain(6)
    links[2], links[3] = links[3], links[2]
    verdict = verify_chain(ATTEMPT, links, contents)
    assert (verdict.problem, verdict.seq) == (ChainProblem.REORDERED, 4)


def test_removing_the_last_items_is_caught_by_the_sealed_head() -> None:
    ring = Keyring({"k1": OLD}, "k1")
    links, contents = chain(6)
    head = seal_head(ring, ATTEMPT, links[-1])
    verdict = verify_chain(ATTEMPT, links[:4], contents, head, ring)
    assert (verdict.problem, verdict.seq) == (ChainProblem.REMOVED, 5)


def test_a_chain_rebuilt_from_scratch_does_not_match_the_sealed_head() -> None:
    ring = Keyring({"k1": OLD}, "k1")
    links, _ = chain(3)
    head = seal_head(ring, ATTEMPT, links[-1])
    rebuilt = [next_link(ATTEMPT, None, "frame", links[0].at, b"fake")]
    rebuilt += [next_link(ATTEMPT, rebuilt[0], "frame", links[1].at, b"fake 2")]
    rebuilt += [next_link(ATTEMPT, rebuilt[1], "frame", links[2].at, b"fake 3")]
    assert verify_chain(ATTEMPT, rebuilt).ok
    assert verify_chain(ATTEMPT, rebuilt, head=head, keyring=ring).problem is ChainProblem.UNSEALED
    forged_head = dataclasses.replace(head, hash=rebuilt[-1].hash)
    assert verify_chain(ATTEMPT, rebuilt, head=forged_head, keyring=ring).problem is ChainProblem.UNSEALED


def test_a_chain_of_another_attempt_does_not_verify() -> None:
    links, _ = chain(2, attempt="attempt-8")
    verdict = verify_chain(ATTEMPT, links)
    assert (verdict.problem, verdict.seq) == (ChainProblem.ALTERED, 1)


@given(st.integers(min_value=3, max_value=12), st.data())
def test_any_single_removal_or_swap_names_the_right_item(n: int, data: st.DataObject) -> None:
    links, contents = chain(n)
    i = data.draw(st.integers(min_value=0, max_value=n - 2))
    removed = links[:i] + links[i + 1 :]
    assert (verify_chain(ATTEMPT, removed, contents).problem, verify_chain(ATTEMPT, removed, contents).seq) == (
        ChainProblem.REMOVED,
        i + 1,
    )
    swapped = list(links)
    swapped[i], swapped[i + 1] = swapped[i + 1], swapped[i]
    verdict = verify_chain(ATTEMPT, swapped, contents)
    assert (verdict.problem, verdict.seq) == (ChainProblem.REORDERED, i + 2)
