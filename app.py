"""Streamlit entry point: ``streamlit run app.py``.

For now (the full app is a later issue) it shows one overview page: the
shipped model's card and the demo campaign's per-variant numbers. ``st.navigation``
is the only multipage mechanism, so Streamlit's automatic ``pages/`` sidebar
never lists pages on its own.
"""

from __future__ import annotations

import streamlit as st

st.set_page_config(page_title="Emotion A/B testing", page_icon=":bar_chart:", layout="wide")
navigation = st.navigation([st.Page("pages/overview.py", title="Overview", default=True)])
navigation.run()
