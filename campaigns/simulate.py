"""Demo data with known truth: ``python -m campaigns.simulate --db PATH --participants N --seed S``.

Creates a complete campaign through the public Store API (the same calls the
app makes): two image variants, counterbalanced participants, snapshots at the
campaign interval drawn from a known per-variant emotion mix (A happier than
B), some no-face, low-confidence, poor-camera and abandoning participants, and
ratings correlated with each participant's emotions. Returns the truth used.
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

from campaigns.errors import CampaignError
from campaigns.snapshots import batch_from_arrays
from campaigns.store import Store
from campaigns.types import DEFAULT_LABELS, NEGATIVE_LABELS, POSITIVE_LABELS, Settings

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
class SimulationConfig:
    """What to simulate; defaults give A a clearly happier response than B."""

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
    campaign = store.go_live(campaign)
    per_variant = int(round(config.exposure_s / config.interval_s))
    mixes = {v: np.array([config.mix[v][k] for k in labels]) for v in ("A", "B")}
    for _ in range(config.participants):
        answers = {
            "age": str(rng.choice(["18-24", "25-34", "35-54", "55+"])),
            "device": str(rng.choice(["laptop", "desktop"])),
        }
        person = store.add_participant(campaign, CONSENT_VERSION, answers=answers)
        face_rate = (
            config.poor_camera_face_rate
            if rng.random() < config.poor_camera_rate
            else 1 - config.no_face_rate
        )
        stop_at = int(rng.uniform(0.3, 1.0) * 2 * per_variant) if rng.random() < config.abandon_rate else None
        shown = 0
        for variant in person.order:
            own_mix = rng.dirichlet(config.concentration * mixes[variant])
            n = per_variant if stop_at is None else max(0, min(per_variant, stop_at - shown))
            shown += n
            if n == 0:
                break
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
            if n < per_variant:
                break
            store.add_feedback(person.id, variant, _rating(rng, own_mix, labels, settings.rating_scale))
        store.mark_participant(person.id, "complete" if stop_at is None else "abandoned")
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
