"""When a video ad really starts playing in the participant's browser.

The server puts a video ad on the page at one moment; the browser starts playing it later: after it
has fetched enough of the file (seconds on a slow connection), or not at all when the browser holds
autoplay back. Timing the exposure and the snapshots from the server's render would tag the first
snapshots "watching" while the participant still looks at a loading player, shift every second of
the timeline, and cut the end of the video off. This invisible component (``st.components.v2``:
inline JavaScript, no build step, nothing fetched from outside) listens for the ``playing`` event of
the page's video and reports how far into the video the browser already is; the page then starts the
ad's clock at that point of the video (``ParticipantSession.video_playing``).
"""

from __future__ import annotations

import math

import streamlit as st

#: The JavaScript module: finds the ad's ``<video>`` (``st.video``'s element, in the page itself; the
#: camera's own video lives in the WebRTC component's iframe), and reports once per mount (Streamlit
#: runs it once per mount; each ad has its own key). A browser that cannot run it (old, or a
#: Content-Security-Policy without ``script-src blob:``) falls back to the page's timeout.
_JS = """
export default function (component) {
  const token = component.data && component.data.token;
  if (!token) return;
  let video = null;
  let timer = null;
  let reported = false;  // once per mount: the server keeps the first report of an ad, ignores repeats
  const report = () => {
    if (reported || !video) return;
    reported = true;
    component.setStateValue("playing", {token: token, position_s: video.currentTime});
  };
  const find = () => {
    video = document.querySelector('video[data-testid="stVideo"]');
    if (!video) {
      timer = setTimeout(find, 100);
      return;
    }
    if (!video.paused && !video.ended && video.readyState >= 3) {
      report();  // already playing before this script looked
    } else {
      video.addEventListener("playing", report);
    }
  };
  find();
  return () => {
    clearTimeout(timer);
    if (video) video.removeEventListener("playing", report);
  };
}
"""

_component = st.components.v2.component("emotion_ab_ad_clock", js=_JS)


def video_position(token: str, longest_s: float) -> float | None:
    """Mount the listener for the ad ``token`` (one per participant and ad); returns how many seconds
    into the video the browser was when it reported the video playing, or None until it has.

    The value comes from the browser, so it is checked: a number from 0 to ``longest_s`` (the
    video's length) or nothing.
    """
    result = _component(key=f"ad-clock-{token}", data={"token": token}, height="content")
    state = result.get("playing") if result is not None else None
    if not isinstance(state, dict) or state.get("token") != token:
        return None
    position = state.get("position_s")
    if isinstance(position, bool) or not isinstance(position, int | float):
        return None
    try:
        seconds = float(position)
    except OverflowError:  # an integer too large for a float: not from a real player
        return None
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), max(longest_s, 0.0))
