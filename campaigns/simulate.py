"""Demo data with known truth: ``python -m campaigns.simulate --db PATH --participants N --seed S``.

Creates a complete campaign through the public Store API (the same calls the
app makes): two image variants and a study setup (entry questions, a quota
that fills up, an age range that screens people out, a target size, a panel
id parameter and redirects), then visitors who arrive with panel ids and go
the participant page's way: some decline at consent, the others answer the
entry questions through the real answer path, which screens some out and
turns some away because their quota cell is full; of the rest a few have no
camera, leave at the camera check or withdraw (erasing their data) after the
first ad. ``participants`` of them go on to the ads: counterbalanced,
snapshots at the campaign interval drawn from a known per-variant emotion mix
(A happier than B), some no-face, low-confidence, poor-camera and abandoning
participants, and ratings correlated with each participant's emotions.
Returns the truth used and how every visit ended.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from campaigns import demo_study
from campaigns.errors import CampaignError
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from campaigns.study import OUTCOMES, AdmissionError
from campaigns.types import DEFAULT_LABELS, NEGATIVE_LABELS, POSITIVE_LABELS, Campaign, Participant, Settings

MODEL_ID = "simulated-fer2013"
CONSENT_VERSION = "demo-1"
# Confident snapshots have a top probability in this range, unconfident ones
# in the next: the truth holds for any threshold in (UNSURE_MAX, SURE_MIN].
SURE_MIN, SURE_MAX = 0.65, 0.97
UNSURE_MIN, UNSURE_MAX = 0.30, 0.55

MIX_A = {
    "angry": 0.03,
    "disgust": 0.02,
    "fear": 0.03,
    "happy": 0.45,
    "sad": 0.07,
    "surprise": 0.10,
    "neutral": 0.30,
}
MIX_B = {
    "angry": 0.06,
    "disgust": 0.04,
    "fear": 0.05,
    "happy": 0.30,
    "sad": 0.12,
    "surprise": 0.08,
    "neutral": 0.35,
}


@dataclass(frozen=True)
class VisitRates:
    """How often a visit ends before the ads, for visitors who pass the entry questions (declining is
    drawn first, of every visitor); screen-outs and full quotas follow from the answers."""

    decline: float = 0.06
    no_camera: float = 0.03
    camera_abandon: float = 0.03
    withdraw: float = 0.02  # after the first ad: "Stop and delete my data"
    repeat: float = 0.03  # a complete participant who opens the link again (refused, nothing stored)

    def __post_init__(self) -> None:
        for name, rate in vars(self).items():
            if not 0 <= rate < 1:
                raise CampaignError(f"visit rate {name} must be from 0 to below 1, got {rate}")
        if self.no_camera + self.camera_abandon + self.withdraw >= 1:
            raise CampaignError("no_camera, camera_abandon and withdraw rates must leave room for the ads")


@dataclass(frozen=True)
class SimulationConfig:
    """What to simulate; defaults give A a clearly happier response than B.

    ``participants`` counts those who go on to the ads (the analysed sample); the visitors who end
    before (declined, screened out, quota full, no camera, left at the camera check, withdrew) come
    on top, drawn from ``visits`` and the entry answers.
    """

    participants: int = 120
    seed: int = 0
    name: str | None = None
    mix: Mapping[str, Mapping[str, float]] = field(default_factory=lambda: {"A": MIX_A, "B": MIX_B})
    no_face_rate: float = 0.08
    confident_rate: float = 0.85
    abandon_rate: float = 0.08
    poor_camera_rate: float = 0.04
    poor_camera_face_rate: float = 0.2
    concentration: float = 60.0
    exposure_s: float = 15.0
    interval_s: float = 1.0
    visits: VisitRates = field(default_factory=VisitRates)
    close: bool = False

    def __post_init__(self) -> None:
        if self.participants < 1:
            raise CampaignError(f"participants must be at least 1, got {self.participants}")
        for variant, mix in self.mix.items():
            if sorted(mix) != sorted(DEFAULT_LABELS) or abs(sum(mix.values()) - 1) > 1e-9:
                raise CampaignError(f"emotion mix of {variant} must give every label a share summing to 1")

    @property
    def campaign_name(self) -> str:
        return self.name or f"Demo campaign (seed {self.seed})"


@dataclass(frozen=True)
class SimulationTruth:
    """The expected values the simulated data was drawn from."""

    campaign_id: int
    campaign: str
    participants: int
    seed: int
    threshold_range: tuple[float, float]
    ratios: Mapping[str, Mapping[str, float]]
    valence: Mapping[str, float]
    differences: Mapping[str, float]
    outcomes: Mapping[str, int] = field(default_factory=dict)  # visits per outcome, as simulated
    repeats_refused: int = 0

    @property
    def visitors(self) -> int:
        return sum(self.outcomes.values())

    def to_json(self) -> dict[str, Any]:
        return {
            "campaign": self.campaign,
            "campaign_id": self.campaign_id,
            "participants": self.participants,
            "seed": self.seed,
            "threshold_range": list(self.threshold_range),
            "ratios": {v: dict(r) for v, r in self.ratios.items()},
            "valence": dict(self.valence),
            "differences": dict(self.differences),
            "visitors": self.visitors,
            "outcomes": dict(self.outcomes),
            "repeats_refused": self.repeats_refused,
        }


def true_values(config: SimulationConfig) -> tuple[dict[str, dict[str, float]], dict[str, float]]:
    """Expected pooled ratio of each label per variant, and expected valence."""
    seen = (1 - config.no_face_rate) * config.confident_rate
    ratios = {v: {k: seen * config.mix[v][k] for k in DEFAULT_LABELS} for v in ("A", "B")}
    valence = {
        v: sum(r for k, r in ratios[v].items() if k in POSITIVE_LABELS)
        - sum(r for k, r in ratios[v].items() if k in NEGATIVE_LABELS)
        for v in ratios
    }
    return ratios, valence


def ad_image(letter: str, colour: tuple[int, int, int]) -> bytes:
    """A small PNG poster standing in for an ad variant."""
    image = np.full((180, 320, 3), colour, dtype=np.uint8)
    cv2.putText(image, f"Ad {letter}", (70, 120), cv2.FONT_HERSHEY_SIMPLEX, 2.5, (255, 255, 255), 5)
    ok, encoded = cv2.imencode(".png", image)
    assert ok
    return encoded.tobytes()


def _probabilities(
    rng: np.random.Generator, emotion: np.ndarray, confident: np.ndarray, n_labels: int
) -> np.ndarray:
    """Probability vectors whose argmax is ``emotion`` and whose top value marks confidence."""
    n = emotion.shape[0]
    top = np.where(confident, rng.uniform(SURE_MIN, SURE_MAX, n), rng.uniform(UNSURE_MIN, UNSURE_MAX, n))
    rest = rng.dirichlet(np.full(n_labels - 1, 5.0), n) * (1 - top)[:, None]
    # Redraw the rare rows where another label would beat the intended top one.
    while (bad := rest.max(axis=1) >= top).any():
        rest[bad] = rng.dirichlet(np.full(n_labels - 1, 5.0), int(bad.sum())) * (1 - top[bad])[:, None]
    probs = np.empty((n, n_labels))
    for i in range(n):
        probs[i] = np.insert(rest[i], emotion[i], top[i])
    return probs.astype(np.float32)


def _rating(rng: np.random.Generator, mix: np.ndarray, labels: Sequence[str], scale: int) -> int:
    """Rating that rises with the participant's own positive-minus-negative mix."""
    lean = sum(p for k, p in zip(labels, mix, strict=True) if k in POSITIVE_LABELS) - sum(
        p for k, p in zip(labels, mix, strict=True) if k in NEGATIVE_LABELS
    )
    centre = (scale + 1) / 2
    return int(np.clip(np.rint(centre + (scale - 1) * lean + rng.normal(0, 0.7)), 1, scale))


def _watch(store: Store, rng: np.random.Generator, config: SimulationConfig, person: Participant,
           mixes: Mapping[str, np.ndarray], scale: int, withdraws: bool) -> str:
    """Both ads with their snapshots and ratings, as far as this participant gets; the outcome."""
    labels = DEFAULT_LABELS
    per_variant = int(round(config.exposure_s / config.interval_s))
    face_rate = (
        config.poor_camera_face_rate
        if rng.random() < config.poor_camera_rate
        else 1 - config.no_face_rate
    )
    stop_at = int(rng.uniform(0.3, 1.0) * 2 * per_variant) if rng.random() < config.abandon_rate else None
    shown = 0
    for position, variant in enumerate(person.order, start=1):
        own_mix = rng.dirichlet(config.concentration * mixes[variant])
        n = per_variant if stop_at is None else max(0, min(per_variant, stop_at - shown))
        shown += n
        if n == 0:
            break
        store.reached_step(person.id, f"ad {position}")
        face = rng.random(n) < face_rate
        emotion = rng.choice(len(labels), size=n, p=own_mix)
        confident = rng.random(n) < config.confident_rate
        probs = _probabilities(rng, emotion, confident, len(labels))
        probs[~face] = np.nan
        offsets = (np.arange(n) * config.interval_s * 1000 + rng.integers(0, 40, n)).astype(np.int64)
        store.add_snapshots(
            batch_from_arrays(
                participant_id=person.id,
                variant=variant,
                offset_ms=offsets,
                face_found=face,
                probabilities=probs,
                model_id=MODEL_ID,
                face_ratio=np.where(face, rng.uniform(0.05, 0.25, n), np.nan),
                brightness=np.where(face, np.clip(rng.normal(120, 20, n), 0, 255), np.nan),
                sharpness=np.where(face, rng.uniform(50, 400, n), np.nan),
            )
        )
        if withdraws:
            store.erase_participant(person.id)  # "Stop and delete my data": only the count stays
            return "withdrew"
        if n < per_variant:
            break
        store.reached_step(person.id, f"rating {position}")
        store.add_feedback(person.id, variant, _rating(rng, own_mix, labels, scale))
    if stop_at is not None:
        store.mark_participant(person.id, "abandoned")
        return "abandoned"
    store.mark_participant(person.id, "complete")
    return "complete"


def _visit(store: Store, rng: np.random.Generator, config: SimulationConfig, campaign: Campaign,
           mixes: Mapping[str, np.ndarray], scale: int, visitor: int) -> tuple[str, str | None, bool]:
    """One visitor through the participant page's calls: (outcome, panel id, whether they saw an ad
    and their data stays)."""
    rates = config.visits
    if rng.random() < rates.decline:
        store.record_decline(campaign)
        return "declined", None, False
    panel_id = demo_study.panel_id(rng, visitor)
    person = store.add_participant(campaign, CONSENT_VERSION, external_id=panel_id)
    ended = store.answer_questions(person.id, demo_study.answers(rng))
    if ended is not None:
        return ended, panel_id, False
    roll = rng.random()
    if roll < rates.no_camera:
        store.end_participant(person.id, "no_camera", "camera")
        return "no_camera", panel_id, False
    if roll < rates.no_camera + rates.camera_abandon:
        store.mark_participant(person.id, "abandoned")  # left at the camera check: no snapshot
        return "abandoned", panel_id, False
    withdraws = roll < rates.no_camera + rates.camera_abandon + rates.withdraw
    outcome = _watch(store, rng, config, person, mixes, scale, withdraws)
    return outcome, panel_id, outcome != "withdrew"


def simulate(store: Store, config: SimulationConfig) -> SimulationTruth:
    """Create and fill a campaign as described by ``config``; return the truth."""
    rng = np.random.default_rng(config.seed)
    labels = DEFAULT_LABELS
    settings = Settings(interval_s=config.interval_s, exposure_s=config.exposure_s)
    campaign = store.create_campaign(
        config.campaign_name,
        description="Simulated participants with a known emotion mix.",
        settings=settings,
        labels=labels,
    )
    store.set_variant(campaign, "A", ad_image("A", (40, 140, 60)), "ad-a.png")
    store.set_variant(campaign, "B", ad_image("B", (140, 60, 40)), "ad-b.png")
    store.set_study(campaign, demo_study.study_setup(config.participants))
    campaign = store.go_live(campaign)
    mixes = {v: np.array([config.mix[v][k] for k in labels]) for v in ("A", "B")}
    outcomes = dict.fromkeys(OUTCOMES, 0)
    watched = repeats = 0
    # Every visitor who passes the questions has a fair chance of reaching the ads, so this ends;
    # the cap only guards rates configured close to 1.
    cap = 50 * config.participants + 100
    while watched < config.participants:
        visitor = sum(outcomes.values())
        if visitor >= cap:
            raise CampaignError(f"only {watched} of {config.participants} simulated participants reached the ads "
                                f"after {cap} visitors; lower the visit rates")
        outcome, panel_id, saw_ads = _visit(store, rng, config, campaign, mixes, settings.rating_scale, visitor)
        outcomes[outcome] += 1
        watched += saw_ads
        if outcome == "complete" and rng.random() < config.visits.repeat:
            try:
                store.check_admission(campaign, panel_id)  # the link page's check: this id has taken part
            except AdmissionError:
                repeats += 1
    if config.close:
        store.close_campaign(campaign)
    ratios, valence = true_values(config)
    differences = {k: ratios["A"][k] - ratios["B"][k] for k in labels}
    differences["valence"] = valence["A"] - valence["B"]
    return SimulationTruth(
        campaign.id,
        campaign.name,
        config.participants,
        config.seed,
        (UNSURE_MAX, SURE_MIN),
        ratios,
        valence,
        differences,
        outcomes,
        repeats,
    )


def _text_summary(truth: SimulationTruth) -> str:
    lines = [
        f"campaign {truth.campaign!r} (id {truth.campaign_id}): {truth.participants} participants, "
        f"seed {truth.seed}; truth holds for thresholds in ({truth.threshold_range[0]}, "
        f"{truth.threshold_range[1]}]",
        f"{'label':<10}{'A':>8}{'B':>8}{'A-B':>8}",
    ]
    for k in DEFAULT_LABELS:
        lines.append(
            f"{k:<10}{truth.ratios['A'][k]:>8.4f}{truth.ratios['B'][k]:>8.4f}{truth.differences[k]:>8.4f}"
        )
    lines.append(
        f"{'valence':<10}{truth.valence['A']:>8.4f}{truth.valence['B']:>8.4f}"
        f"{truth.differences['valence']:>8.4f}"
    )
    ended = ", ".join(f"{outcome} {n}" for outcome, n in truth.outcomes.items() if n)
    lines.append(f"{truth.visitors} visitors: {ended}; {truth.repeats_refused} repeat visits refused")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="python -m campaigns.simulate", description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="DuckDB file (created if missing)")
    parser.add_argument("--participants", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--name", default=None, help="campaign name (default: 'Demo campaign (seed S)')")
    parser.add_argument("--close", action="store_true", help="close the campaign afterwards")
    parser.add_argument("--json", action="store_true", help="print the truth as one JSON object")
    args = parser.parse_args(argv)
    try:
        config = SimulationConfig(
            participants=args.participants, seed=args.seed, name=args.name, close=args.close
        )
        with Store.open(args.db) as store:
            truth = simulate(store, config)
    except CampaignError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(truth.to_json(), indent=2) if args.json else _text_summary(truth))
    return 0


if __name__ == "__main__":
    sys.exit(main())
