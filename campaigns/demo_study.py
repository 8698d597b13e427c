"""The demo's study setup and what its simulated visitors answer (``campaigns.simulate`` runs them
through the same Store calls as the participate page): a gender quota that fills, an age range that
screens out, a device question for segments, an optional multiple choice, panel ids and redirects."""

from __future__ import annotations

from typing import Any

import numpy as np

from campaigns.study import Question, Quota, StudySetup

GENDERS = {"Female": 0.48, "Male": 0.46, "Non-binary or other": 0.03, "Prefer not to say": 0.03}
DEVICES = ("laptop", "desktop")
APPS = ("Instagram", "TikTok", "YouTube", "Facebook")
PANEL = "https://panel.example"


def study_setup(participants: int) -> StudySetup:
    """The demo's study: the Male cell fills at about a third of ``participants``, so later men are
    turned away as quota full; ages outside 18-65 are screened out; the target leaves room to grow."""
    questions = (
        Question("gender", "What is your gender?", "single", tuple(GENDERS)),
        Question("age", "How old are you?", "number", min=14, max=99, eligible_min=18, eligible_max=65),
        Question("device", "Which device are you using now?", "single", DEVICES),
        Question("apps", "Which of these do you use?", "multiple", APPS, required=False),
    )
    quotas = (Quota("gender", "Female", max(1, round(0.8 * participants))),
              Quota("gender", "Male", max(1, round(0.25 * participants))))
    redirects = {outcome: f"{PANEL}/{outcome.replace('_', '-')}?pid={{pid}}"
                 for outcome in ("complete", "screened_out", "quota_full", "declined", "no_camera")}
    return StudySetup(questions=questions, quotas=quotas, target_completes=max(2, round(1.5 * participants)),
                      pid_param="pid", redirects=redirects)


def panel_id(rng: np.random.Generator, visitor: int) -> str:
    """A panel's participant id, as a panel link would carry it; the visitor number keeps it unique
    (a repeated id that completed would be refused)."""
    return f"PX-{visitor:05d}" + "".join(str(d) for d in rng.integers(0, 10, 4))


def answers(rng: np.random.Generator) -> dict[str, Any]:
    """Raw entry answers as the questions form sends them (about 15% are outside 18-65)."""
    roll = rng.random()
    age = int(rng.integers(15, 18)) if roll < 0.08 else int(rng.integers(66, 85)) if roll < 0.15 \
        else int(rng.integers(18, 66))
    apps = [a for a in APPS if rng.random() < 0.45] if rng.random() >= 0.15 else []
    return {
        "gender": str(rng.choice(list(GENDERS), p=list(GENDERS.values()))),
        "age": age,
        "device": str(rng.choice(DEVICES)),
        "apps": apps,
    }
