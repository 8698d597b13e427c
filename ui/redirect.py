"""The last page's way back to the panel: a button, followed by itself after a few seconds.

Panels (Prolific, Cint, Dynata, Qualtrics) expect the participant back at a
link per outcome. The button works without scripts; an inline
``st.components.v2`` script (nothing fetched from outside) follows the same
link after ``FOLLOW_AFTER_S``, so a participant who does nothing still gets
credited. The link was checked when the study was set up (http or https only).
"""

from __future__ import annotations

import streamlit as st

from campaigns.study import check_redirect

FOLLOW_AFTER_S = 5

_JS = """
export default function (component) {
  const url = component.data && component.data.url;
  const seconds = component.data && component.data.seconds;
  if (!url || !(url.startsWith("https://") || url.startsWith("http://"))) return;
  const timer = setTimeout(() => { window.top.location.assign(url); }, seconds * 1000);
  return () => clearTimeout(timer);
}
"""

_component = st.components.v2.component("emotion_ab_redirect", js=_JS)


def send_back(url: str, *, follow: bool = True, key: str = "redirect") -> None:
    """Show the way back to the panel at ``url``; with ``follow`` the page goes there by itself."""
    check_redirect(url, "Redirect")
    st.link_button("Continue", url, type="primary")
    if follow:
        st.caption(f"You will be taken back in {FOLLOW_AFTER_S} seconds.")
        _component(key=key, data={"url": url, "seconds": FOLLOW_AFTER_S}, height="content")
    else:
        st.caption(f"Preview: a participant is taken to {url} after {FOLLOW_AFTER_S} seconds.")
