"""Read-only parts of the campaigns page: the list, the picker, progress, link and variants."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import streamlit as st

from app_state import EDIT_CAMPAIGN
from campaigns.errors import CampaignError
from campaigns.store import Store
from campaigns.study import IN_PROGRESS, OUTCOME_LABELS, OUTCOMES, StudySetup
from campaigns.types import PARTICIPANT_STATUSES, VARIANTS, Campaign, Variant
from ui import links
from ui.campaign_form import human_size, preview

NEW = -1  # picker value of "New campaign" (campaign ids are positive)
STATUS_ICONS = {"draft": ":material/edit_note:", "live": ":material/radio_button_checked:",
                "closed": ":material/lock:"}


@dataclass(frozen=True)
class Progress:
    """How far a campaign's data collection is."""

    started: int
    complete: int
    abandoned: int
    snapshots: int
    faces: int

    @property
    def participants(self) -> int:
        return self.started + self.complete + self.abandoned

    @property
    def face_rate(self) -> float | None:
        return self.faces / self.snapshots if self.snapshots else None


def progress(store: Store, campaign: Campaign) -> Progress:
    """Participants by status, snapshots stored and how many showed a face."""
    data = store.load(campaign)
    status = data.participants["status"].value_counts()
    count = {s: int(status.get(s, 0)) for s in PARTICIPANT_STATUSES}
    return Progress(count["started"], count["complete"], count["abandoned"],
                    int(data.counts["snapshots"].sum()), int(data.counts["faces"].sum()))


def overview(store: Store, campaigns: list[Campaign]) -> pd.DataFrame:
    """One row per campaign for the list at the top of the page."""
    rows = []
    for c in campaigns:
        p = progress(store, c)
        rows.append({"campaign": c.name, "status": c.status, "participants": p.participants,
                     "complete": p.complete, "snapshots": p.snapshots,
                     "created": c.created_at.strftime("%Y-%m-%d %H:%M")})
    return pd.DataFrame(rows)


def pick_campaign(campaigns: list[Campaign], *, new: bool = True) -> Campaign | None:
    """Campaign picker (remembered in the session); None means "new campaign" (offered with ``new``)."""
    by_id = {c.id: c for c in campaigns}
    options = [*by_id, NEW] if new else list(by_id)
    if not options:
        return None
    chosen = st.session_state.get(EDIT_CAMPAIGN)
    if chosen not in options:
        chosen = options[0]  # newest campaign, or "new" when there is none
    names = {c.id: f"{c.name} ({c.status})" for c in campaigns} | {NEW: "➕ New campaign"}
    picked = st.selectbox("Campaign", options, index=options.index(chosen), format_func=names.__getitem__)
    st.session_state[EDIT_CAMPAIGN] = picked
    return by_id.get(picked)


def show_progress(p: Progress) -> None:
    """What the snapshots stored so far look like (participants are counted by ``show_funnel``)."""
    cols = st.columns(2)
    cols[0].metric("Snapshots stored", f"{p.snapshots:,}")
    cols[1].metric("Face found", "–" if p.face_rate is None else f"{p.face_rate:.0%}",
                   help="Share of snapshots in which a face was found.")


def show_share(campaign: Campaign, study: StudySetup) -> None:
    """The participant link with a copy button and a QR code, and the same link for a panel."""
    link = links.participant_link(links.current_base_url(), campaign.token)
    left, right = st.columns([3, 1])
    with left:
        st.markdown("**Participant link** (send it to participants; it opens only this campaign's test)")
        st.code(link, language=None)
        st.markdown(f"**Panel link** (Prolific, Cint, Qualtrics...: let the panel fill in its participant ID "
                    f"for `{{{study.pid_param}}}`, in the placeholder it uses)")
        st.code(f"{link}&{study.pid_param}={{{study.pid_param}}}", language=None)
        st.caption(f"Not the right address? Set `{links.PUBLIC_URL_ENV}` to the app's public URL.")
    right.image(links.qr_png(link), caption="Scan to take part", width=180)


def show_funnel(store: Store, campaign: Campaign, study: StudySetup) -> None:
    """Live counts per outcome and per quota cell, and how close the study is to its target."""
    funnel = store.funnel(campaign)
    shown = [o for o in (*OUTCOMES, IN_PROGRESS) if o in ("complete", IN_PROGRESS) or funnel.get(o, 0)]
    st.markdown(f"#### Participants by outcome ({sum(funnel.values())} in all)")
    for column, outcome in zip(st.columns(len(shown)), shown, strict=True):
        column.metric(OUTCOME_LABELS[outcome], funnel.get(outcome, 0))
    if study.target_completes:
        done = funnel.get("complete", 0)
        st.progress(min(done / study.target_completes, 1.0),
                    text=f"{done} of {study.target_completes} completes (target size)")
    if study.ends_at:
        st.caption(f"Takes no new participants from {study.ends_at:%Y-%m-%d %H:%M} UTC.")
    counts = store.quota_counts(campaign)
    if counts:
        st.markdown("**Quota cells**")
        st.dataframe(pd.DataFrame([
            {"question": c.quota.question, "answer": c.quota.option, "limit": c.quota.limit,
             "complete": c.complete, "in progress": c.in_progress, "full": "yes" if c.full else ""}
            for c in counts]), hide_index=True)


def show_variants(store: Store, campaign: Campaign, stored: dict[str, Variant]) -> None:
    """Previews of the stored variants."""
    for column, name in zip(st.columns(2), VARIANTS, strict=True):
        with column:
            st.markdown(f"**Variant {name}**")
            variant = stored.get(name)
            if variant is None:
                st.info(f"Variant {name} is not uploaded yet; it is needed to go live.")
                continue
            try:
                preview(store.variant_media(campaign, name), variant.kind)
            except CampaignError as exc:
                st.error(str(exc))
            duration = f", {variant.duration_s:.1f} s" if variant.duration_s else ""
            st.caption(f"{variant.filename or 'unnamed'}: {variant.kind} {variant.width}×{variant.height}"
                       f"{duration}, {human_size(variant.size_bytes)}")
