"""Webcam capture for the participant flow: thin adapters around streamlit-webrtc.

- ``flow``: the participant's steps as a pure, immutable state machine.
- ``holder``: the lock-guarded state the page, the frame callback and the
  inference worker share (what is on screen, the camera-check verdicts).
- ``frames``: the bounded frame queue between the frame callback and the worker.
- ``worker``: the inference worker thread (classify, store in batches).
- ``rtc``: the camera component (constraints, ICE servers from the app's
  settings) and the frame callback; its streamlit-webrtc fixes live in ``compat.webrtc``.
- ``session``: one participant's flow, capture and store writes together.
"""
