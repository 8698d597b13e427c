"""Preview (staff): a campaign's whole participant flow, draft or live, exactly as a participant sees it.

The flow runs against a ``capture.preview.PreviewStore``: it reads the real
campaign, its variants, study setup and quota counts, and keeps nothing, so a
preview is no participant, fills no quota cell and follows no redirect. The
camera and the model run as for a participant, because the camera check needs
them; their pictures are dropped like every other.
"""

from __future__ import annotations

import streamlit as st

from app_state import PREVIEW_CAMPAIGN, PREVIEW_FLOW, participant_session, store
from campaigns.errors import CampaignError
from capture.preview import PreviewStore
from ui.messages import show_flash, store_faults
from ui.participant_flow import render

#: The preview's panel id, so redirects with ``{pid}`` show what a panel would receive.
PREVIEW_PID = "PREVIEW"

st.title("Preview as participant")
show_flash()
with store_faults():
    db = store()
    campaigns = [c for c in db.campaigns() if c.status != "closed"]
    if not campaigns:
        st.info("There is no draft or live campaign to preview. Create one on the Campaigns page.")
        st.stop()
    ids = [c.id for c in campaigns]
    wanted = st.session_state.get(PREVIEW_CAMPAIGN)
    chosen = st.selectbox("Campaign", campaigns, index=ids.index(wanted) if wanted in ids else 0,
                          format_func=lambda c: f"{c.name} ({c.status})")
    if chosen.id != wanted:
        st.session_state[PREVIEW_CAMPAIGN] = chosen.id
        st.session_state[PREVIEW_FLOW] = None
    st.info("This is a preview: it runs every step a participant sees, with your camera, and stores nothing. "
            "It counts toward no quota or result and follows no redirect.", icon=":material/visibility:")
    if st.button("Start the preview again", icon=":material/restart_alt:"):
        session = st.session_state.get(PREVIEW_FLOW)
        if session is not None:
            session.close()
        st.session_state[PREVIEW_FLOW] = None
    try:
        study = db.study(chosen)
        preview = PreviewStore(db, chosen)
        missing = [v for v in ("A", "B") if v not in preview.variants(chosen)]
    except CampaignError as exc:
        st.error(f"This campaign cannot be previewed: {exc}")
        st.stop()
    if missing:
        st.warning(f"Variant {' and '.join(missing)} is not uploaded yet: the preview stops before that ad. "
                   "Upload both variants on the Campaigns page.")
    st.divider()
    session = participant_session(chosen, study, PREVIEW_PID, key=PREVIEW_FLOW)
    render(session, preview, preview=True)
