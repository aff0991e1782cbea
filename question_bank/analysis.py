"""Item analysis after an exam: difficulty, discrimination, option use, KR-20, flags.

Forms are drawn from pools, so not every attempt saw every item: an item id missing
from an attempt means "not presented", ``None`` means "presented, not answered"
(scored wrong). Twins count as one item when the caller uses the twin key as the id
(and both twins keep their options in the same order).

* difficulty ``p``: share of presenting attempts that chose the key;
* discrimination: point-biserial correlation of the item score with the *rest* score
  (total minus this item), so an item does not correlate with itself;
* miskeyed: in the upper group (top 27 % by total score) a distractor is chosen more
  often than the key;
* useless: nobody or everybody right, or negative discrimination;
* KR-20 (equal to Cronbach's alpha for 0/1 items) computed exactly, with one denominator:
  ``KR-20 = k/(k-1) * (1 - sum(p*q) / var(total))`` where ``p*q`` and ``var(total)`` are both
  population variances (divided by the number of attempts ``n``), so it is never above 1. With
  drawn forms it is computed over the items every analysed attempt was presented (``kr20_items``);
  fewer than 2 such items, or fewer than :data:`MIN_ATTEMPTS_FOR_RELIABILITY` attempts: ``None``.

Small samples: with fewer than :data:`MIN_ATTEMPTS_FOR_FLAGS` presentations an item's statistics
are noise (with two attempts the "upper group" is one student), so :meth:`ItemStats.reported_flags`
is empty and the edges show :data:`SMALL_SAMPLE_CAUTION` instead. ``ItemStats.flags`` keeps the
raw signals for the gate before the journal, which applies its own ``GatePolicy.min_attempts``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np

UPPER_GROUP_SHARE = 0.27
# Below this many finished attempts KR-20 is not reported (None; "not enough attempts").
MIN_ATTEMPTS_FOR_RELIABILITY = 10
# Below this many presentations an item is not flagged (its flags are shown as a caution instead).
MIN_ATTEMPTS_FOR_FLAGS = 10
# Flag messages contain a colon, so several flags of one item are joined with a semicolon.
FLAG_SEPARATOR = "; "
KR20_NOT_AVAILABLE = "not enough attempts"
SMALL_SAMPLE_CAUTION = (
    "Fewer than {minimum} finished attempts: the figures are unstable, so no item is flagged "
    "and the reliability (KR-20) is not computed"
)
ITEM_TOO_FEW = "Not flagged: presented in {attempts} attempts, fewer than {minimum}"
_NOT_SHOWN = -2
_OMITTED = -1


class Flag(StrEnum):
    MISKEYED = "miskeyed"
    NOBODY_CORRECT = "nobody_correct"
    EVERYBODY_CORRECT = "everybody_correct"
    NEGATIVE_DISCRIMINATION = "negative_discrimination"


USELESS_FLAGS = frozenset({Flag.NOBODY_CORRECT, Flag.EVERYBODY_CORRECT, Flag.NEGATIVE_DISCRIMINATION})
FLAG_MESSAGES: dict[Flag, str] = {
    Flag.MISKEYED: "Possibly miskeyed: strong students prefer another option",
    Flag.NOBODY_CORRECT: "Nobody answered correctly",
    Flag.EVERYBODY_CORRECT: "Everybody answered correctly",
    Flag.NEGATIVE_DISCRIMINATION: "Negative discrimination",
}


@dataclass(frozen=True, slots=True)
class ItemStats:
    item_id: Hashable
    key: int
    attempts: int  # attempts the item was presented in
    correct: int
    difficulty: float | None
    discrimination: float | None
    option_counts: tuple[int, ...]
    omitted: int
    upper_counts: tuple[int, ...]  # option choices within the upper group
    flags: tuple[Flag, ...]

    @property
    def miskeyed(self) -> bool:
        return Flag.MISKEYED in self.flags

    @property
    def useless(self) -> bool:
        return any(flag in USELESS_FLAGS for flag in self.flags)

    @property
    def too_few(self) -> bool:
        """Presented too rarely for its flags to mean anything."""
        return self.attempts < MIN_ATTEMPTS_FOR_FLAGS

    def reported_flags(self) -> tuple[Flag, ...]:
        """The flags to show a reader: none below :data:`MIN_ATTEMPTS_FOR_FLAGS` presentations."""
        return () if self.too_few else self.flags


@dataclass(frozen=True, slots=True)
class FormAnalysis:
    items: tuple[ItemStats, ...]
    attempts: int
    mean_score: float | None
    score_sd: float | None
    kr20: float | None
    kr20_items: int = 0  # the items KR-20 was computed over (presented in every attempt)

    @property
    def small_sample(self) -> bool:
        """Fewer attempts than the flags and the reliability need: show :data:`SMALL_SAMPLE_CAUTION`."""
        return self.attempts < max(MIN_ATTEMPTS_FOR_FLAGS, MIN_ATTEMPTS_FOR_RELIABILITY)


def _correlation(x: np.ndarray, y: np.ndarray) -> float | None:
    if x.size < 2 or x.std() == 0 or y.std() == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def _choices(responses: Sequence[Mapping[Hashable, int | None]], ids: list[Hashable]) -> np.ndarray:
    matrix = np.full((len(responses), len(ids)), _NOT_SHOWN, dtype=np.int64)
    for row, attempt in enumerate(responses):
        for col, item_id in enumerate(ids):
            if item_id in attempt:
                choice = attempt[item_id]
                matrix[row, col] = _OMITTED if choice is None else int(choice)
    return matrix


def _item_stats(
    item_id: Hashable, key: int, n_options: int, chosen: np.ndarray, totals: np.ndarray, upper_share: float
) -> ItemStats:
    shown = chosen != _NOT_SHOWN
    picks = chosen[shown]
    if (picks >= n_options).any() or (picks < _OMITTED).any():
        raise ValueError(f"item {item_id!r}: a chosen option is outside 0..{n_options - 1}")
    score = (picks == key).astype(float)
    n = int(picks.size)
    counts = tuple(int((picks == option).sum()) for option in range(n_options))
    p = float(score.mean()) if n else None
    discrimination = _correlation(score, totals[shown] - score)
    group = max(1, math.ceil(upper_share * n)) if n else 0
    order = np.lexsort((np.arange(n), -totals[shown]))[:group]
    upper = tuple(int((picks[order] == option).sum()) for option in range(n_options))
    flags: list[Flag] = []
    if n and any(count > upper[key] for option, count in enumerate(upper) if option != key):
        flags.append(Flag.MISKEYED)
    if p == 0.0:
        flags.append(Flag.NOBODY_CORRECT)
    if p == 1.0:
        flags.append(Flag.EVERYBODY_CORRECT)
    if discrimination is not None and discrimination < 0:
        flags.append(Flag.NEGATIVE_DISCRIMINATION)
    return ItemStats(
        item_id,
        key,
        n,
        int(score.sum()),
        p,
        discrimination,
        counts,
        int((picks == _OMITTED).sum()),
        upper,
        tuple(flags),
    )


def _kr20(chosen: np.ndarray, keys: np.ndarray) -> tuple[float | None, int]:
    """(KR-20, k) over the items presented in every attempt that took the form."""
    shown = chosen != _NOT_SHOWN
    took = shown.any(axis=1)
    if int(took.sum()) < MIN_ATTEMPTS_FOR_RELIABILITY:
        return None, 0
    common = shown[took].all(axis=0)
    k = int(common.sum())
    if k < 2:
        return None, k
    scores = (chosen[took][:, common] == keys[common]).astype(float)
    p = scores.mean(axis=0)
    variance = float(scores.sum(axis=1).var())  # ddof=0, the same denominator as p*q
    if variance == 0:
        return None, k
    return k / (k - 1) * (1 - float((p * (1 - p)).sum()) / variance), k


def analyse_items(
    responses: Sequence[Mapping[Hashable, int | None]],
    key: Mapping[Hashable, int],
    *,
    option_counts: Mapping[Hashable, int] | None = None,
    upper_share: float = UPPER_GROUP_SHARE,
) -> FormAnalysis:
    """Analyse one exam. ``key`` lists the items (in report order) with their key index.

    ``option_counts`` gives each item's number of options, so never-chosen options
    still show as zero; without it the highest index seen is used.
    """
    ids = list(key)
    chosen = _choices(responses, ids)
    keys = np.array([key[i] for i in ids], dtype=np.int64)
    totals = ((chosen == keys) & (chosen != _NOT_SHOWN)).sum(axis=1).astype(float) if ids else np.zeros(len(responses))
    stats = []
    for col, item_id in enumerate(ids):
        seen_max = int(chosen[:, col].max()) if len(responses) else -1
        n_options = (option_counts or {}).get(item_id) or max(seen_max, key[item_id]) + 1
        stats.append(_item_stats(item_id, key[item_id], n_options, chosen[:, col], totals, upper_share))
    took = (chosen != _NOT_SHOWN).any(axis=1) if ids else np.zeros(len(responses), dtype=bool)
    scores = totals[took]
    kr20, kr20_items = _kr20(chosen, keys) if ids else (None, 0)
    return FormAnalysis(
        items=tuple(stats),
        attempts=int(took.sum()),
        mean_score=float(scores.mean()) if scores.size else None,
        score_sd=float(scores.std()) if scores.size else None,
        kr20=kr20,
        kr20_items=kr20_items,
    )


# ------------------------------------------------------------------------ the gate before the journal

# Flags that hold an exam's results (see :func:`hold_reasons`); "nobody / everybody correct" do
# not: an easy or a hard item is graded rightly, a wrong key is not.
HOLD_FLAGS = frozenset({Flag.MISKEYED, Flag.NEGATIVE_DISCRIMINATION})


@dataclass(frozen=True, slots=True)
class GatePolicy:
    """When an item's statistics are strong enough evidence to hold an exam's results.

    ``min_attempts``: an item presented fewer times says nothing (flags of a handful of
    attempts are noise). ``discrimination_below``: a slightly negative discrimination is
    noise too; the gate holds only below this value. A miskey signal (the strong group
    prefers a distractor — which includes the key nobody strong picks while they pick
    something else) holds at any strength once ``min_attempts`` is reached.
    """

    min_attempts: int = 10
    discrimination_below: float = -0.2


def hold_reasons(item: ItemStats, policy: GatePolicy = GatePolicy()) -> tuple[Flag, ...]:
    """The flags of ``item`` that hold the exam's results under ``policy`` (empty: release)."""
    if item.attempts < policy.min_attempts:
        return ()
    reasons = []
    if Flag.MISKEYED in item.flags:
        reasons.append(Flag.MISKEYED)
    if item.discrimination is not None and item.discrimination < policy.discrimination_below:
        reasons.append(Flag.NEGATIVE_DISCRIMINATION)
    return tuple(reasons)


def held_items(analysis: FormAnalysis, policy: GatePolicy = GatePolicy()) -> dict[Hashable, tuple[Flag, ...]]:
    """Item id -> the flags that hold it, for every item that holds the exam (empty: release it)."""
    out = {}
    for item in analysis.items:
        reasons = hold_reasons(item, policy)
        if reasons:
            out[item.item_id] = reasons
    return out
