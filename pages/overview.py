"""Overview page (placeholder until the app issue): shipped model card and the demo campaign."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from app_state import demo_analysis, shipped_card

st.title("Emotion A/B testing")
st.caption("Two ad variants, webcam snapshots scored by a facial-expression model, honest paired statistics.")

card = shipped_card()
st.subheader("Shipped model")
if card is None:
    st.warning("No shipped model found under emotion/shipped_model.")
else:
    cols = st.columns(4)
    cols[0].metric("Architecture", card.architecture)
    cols[1].metric("Labels", len(card.labels))
    private = card.metrics.get("private_test", {})
    cols[2].metric("PrivateTest accuracy", f"{private['accuracy']:.3f}" if private else "n/a")
    cols[3].metric("Macro F1", f"{private['macro_f1']:.3f}" if private else "n/a")
    st.write("Labels, in the model's order: " + ", ".join(card.labels))

st.subheader("Demo campaign")
analysis = demo_analysis()
rows = [{"variant": v, "participants": s.participants, "snapshots": s.snapshots,
         "face rate": s.face_rate, "happy ratio": s.ratios.get("happy", 0.0), "valence": s.valence,
         "feedback (centred)": s.feedback_centred, "combined score": s.combined_score}
        for v, s in analysis.summaries.items()]
st.dataframe(pd.DataFrame(rows), hide_index=True)
verdicts = {metric: c.verdict for metric, c in analysis.comparisons.items()}
st.write("Paired comparison verdicts (A vs B): " + "; ".join(f"**{m}**: {v}" for m, v in verdicts.items()))
