"""The campaign form: name, description, the two variants and every campaign setting.

The rules are the store's (:mod:`campaigns.inputs`, :class:`campaigns.types.Settings`): each label
shows its setting's range and unit before anything is typed, and the same checks run when the
button is pressed, each refusal shown under its own field and named by its label. Number widgets
carry no bounds of their own, so a value typed out of range is refused with a message at the field
rather than silently replaced by the nearest allowed one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from functools import partial
from typing import Any

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from campaigns.errors import CampaignError
from campaigns.inputs import DESCRIPTION_MAX_CHARS, NAME_MAX_CHARS, as_settings, text
from campaigns.media import MediaInfo, validate_media
from campaigns.types import SETTING_RANGES, VARIANTS, Campaign, Settings, Variant, check_setting

#: What the uploader offers (the formats of the design); the store sniffs the bytes regardless.
UPLOAD_TYPES = ("png", "jpg", "jpeg", "webp", "mp4", "webm")
#: Streamlit counts its upload limit in MiB.
MIB = 1024 * 1024


@dataclass(frozen=True)
class SettingField:
    """How one :class:`Settings` field is asked for."""

    name: str
    title: str
    help: str
    step: float | None = None

    @property
    def label(self) -> str:
        """The title with the setting's unit and range: ``Snapshot interval (seconds, 0.1–60)``."""
        allowed = SETTING_RANGES.get(self.name)
        if allowed is None:
            return self.title
        unit = f"{allowed.unit}, " if allowed.unit else ""
        return f"{self.title} ({unit}{allowed.span()})"


SETTING_FIELDS: tuple[SettingField, ...] = (
    SettingField("interval_s", "Snapshot interval",
                 "How often the webcam is sampled while a variant is on screen.", 0.1),
    SettingField("exposure_s", "Image exposure",
                 "How long an image variant is shown; videos play to their end.", 1.0),
    SettingField("confidence_threshold", "Confidence threshold",
                 "A snapshot counts for an emotion only when the model is at least this sure; "
                 "analysts can move it on the Results page.", 0.05),
    SettingField("rating_scale", "Rating scale",
                 "Points of the feedback question, from very negative (1) to very positive."),
    SettingField("rating_question", "Rating question", "Asked after each variant; it cannot be empty."),
    SettingField("min_participants", "Minimum participants",
                 "Below this many participants with data for both variants a comparison says "
                 "'not enough data'."),
    SettingField("min_face_rate", "Minimum face-found rate",
                 "A participant's data for a variant is excluded when fewer of its snapshots show a face.", 0.05),
    SettingField("valence_weight", "Valence weight",
                 "Weight of facial valence against feedback in the combined score (0 = feedback only).", 0.05),
    SettingField("keep_face_crops", "Keep face crops",
                 "Store face crops of participants who separately agree to it. Off by default: "
                 "normally no image is kept."),
)
NAME_LABEL = "Campaign name"
DESCRIPTION_LABEL = "Description"
#: The form's label of each field, by the key a refusal carries (``CampaignError.field``).
FIELD_LABELS: Mapping[str, str] = {"name": NAME_LABEL, "description": DESCRIPTION_LABEL} | {
    f.name: f.label for f in SETTING_FIELDS}


@dataclass(frozen=True)
class Upload:
    """An uploaded file's name and bytes, and what checking them found (None: not checked yet)."""

    filename: str | None
    data: bytes
    info: MediaInfo | None = None


@dataclass(frozen=True)
class CampaignInput:
    """What the form collected; checked by the store, not here."""

    name: str
    description: str
    settings: dict[str, Any]
    uploads: dict[str, Upload] = field(default_factory=dict)


def error_text(exc: CampaignError) -> str:
    """The store's message; about a field of this form, led by the field's label instead of its key."""
    label = FIELD_LABELS.get(exc.field) if exc.field is not None else None
    if label is not None:
        return f"{label}: {exc.reason}"
    message = str(exc)
    return message[:1].upper() + message[1:]


def field_errors(name: str | None, description: str, settings: Mapping[str, Any]) -> dict[str, str]:
    """What the store would refuse, by field key, each message led by the field's label; ``name``
    None skips the name (an existing campaign keeps its own). Empty when everything can be saved."""
    checks: dict[str, Callable[[], object]] = {}
    if name is not None:
        checks["name"] = partial(text, name, "campaign name", NAME_MAX_CHARS, field="name")
    checks["description"] = partial(text, description, "description", DESCRIPTION_MAX_CHARS, allow_empty=True,
                                    field="description")
    for key, value in settings.items():
        checks[key] = partial(check_setting, key, value)
    errors = {}
    for key, check in checks.items():
        try:
            check()
        except CampaignError as exc:
            errors[key] = error_text(exc)
    return errors


def settings_inputs(current: Settings, key: str,
                    disabled: bool = False) -> tuple[dict[str, Any], dict[str, DeltaGenerator]]:
    """One widget per setting, starting at ``current``; returns the raw values entered and, by setting,
    the empty slot under its widget where a refusal is shown."""
    values: dict[str, Any] = {}
    slots: dict[str, DeltaGenerator] = {}
    columns = st.columns(2)
    for i, spec in enumerate(SETTING_FIELDS):
        value = getattr(current, spec.name)
        widget_key = f"{key}_{spec.name}"
        with columns[i % 2]:
            if isinstance(value, bool):
                values[spec.name] = st.checkbox(spec.label, value, help=spec.help, key=widget_key,
                                                disabled=disabled)
            elif isinstance(value, str):
                values[spec.name] = st.text_input(spec.label, value, help=spec.help, key=widget_key,
                                                  disabled=disabled)
            elif isinstance(value, int):
                values[spec.name] = int(st.number_input(spec.label, value=value, step=1, help=spec.help,
                                                        key=widget_key, disabled=disabled))
            else:
                values[spec.name] = float(st.number_input(spec.label, value=float(value), step=spec.step,
                                                          format="%g", help=spec.help, key=widget_key,
                                                          disabled=disabled))
            slots[spec.name] = st.empty()
    return values, slots


def upload_input(variant: str, key: str, stored: Variant | None, max_bytes: int) -> Upload | None:
    """An uploader for one variant with a preview; returns the new upload (None when none was chosen)."""
    label = f"Variant {variant}: image (PNG, JPEG, WebP) or video (MP4, WebM)"
    if stored is not None:
        label = f"Replace variant {variant}"
    # The browser refuses a larger file at once; Streamlit's own limit (server.maxUploadSize) is the same.
    file = st.file_uploader(label, type=list(UPLOAD_TYPES), key=f"{key}_upload_{variant}",
                            max_upload_size=max(1, max_bytes // MIB))
    if file is None:
        return None
    upload = Upload(file.name, file.getvalue())
    # A video is decoded to its end to measure it (seconds for a long one): once per chosen file
    # in this browser session, not on every rerun of the page.
    probe_key = f"{key}_probe_{variant}"
    probed = st.session_state.get(probe_key)
    if probed is None or probed[0] != file.file_id:
        try:
            with st.spinner(f"Checking variant {variant}..."):
                probed = (file.file_id, validate_media(upload.data, upload.filename, max_bytes))
        except CampaignError as exc:
            probed = (file.file_id, exc)
        st.session_state[probe_key] = probed
    info = probed[1]
    if isinstance(info, CampaignError):
        st.error(error_text(info))
        return upload  # the store rejects it again on save, with the same message
    upload = replace(upload, info=info)
    preview(upload.data, info.kind)
    duration = f", {info.duration_s:.1f} s" if info.duration_s else ""
    st.caption(f"{info.kind} {info.width}×{info.height}{duration}, {human_size(info.size_bytes)}")
    return upload


def human_size(n_bytes: int) -> str:
    """``12 kB``, ``3.4 MB``: file sizes as people read them."""
    if n_bytes < 1_000_000:
        return f"{max(1, round(n_bytes / 1000))} kB"
    return f"{n_bytes / 1e6:.1f} MB"


def preview(data: bytes, kind: str) -> None:
    """Show image or video bytes at a preview size."""
    if kind == "video":
        st.video(data)
    else:
        st.image(data, width=320)


def campaign_form(campaign: Campaign | None, stored: dict[str, Variant], key: str, max_bytes: int,
                  locked: bool = False) -> CampaignInput | None:
    """The create (``campaign`` None) or edit form; returns the input when its button was pressed.

    Not an ``st.form``: uploads show their preview and any problem at once.
    ``locked`` (a live or closed campaign) shows the settings without letting them change.
    """
    current = campaign.settings if campaign is not None else Settings()
    name = st.text_input(NAME_LABEL, campaign.name if campaign else "", key=f"{key}_name",
                         max_chars=NAME_MAX_CHARS, disabled=campaign is not None,
                         help=f"Unique, 1–{NAME_MAX_CHARS} characters; it cannot be changed later.")
    slots = {"name": st.empty()}
    description = st.text_area(DESCRIPTION_LABEL, campaign.description if campaign else "",
                               key=f"{key}_description", max_chars=DESCRIPTION_MAX_CHARS, disabled=locked,
                               help="For your team: what is being tested and why.")
    slots["description"] = st.empty()
    uploads: dict[str, Upload] = {}
    if not locked:
        for column, variant in zip(st.columns(2), VARIANTS, strict=True):
            with column:
                upload = upload_input(variant, key, stored.get(variant), max_bytes)
                if upload is not None:
                    uploads[variant] = upload
    st.markdown("**Settings**")
    values, setting_slots = settings_inputs(current, key, disabled=locked)
    slots |= setting_slots
    if locked:
        return None
    label = "Create campaign" if campaign is None else "Save changes"
    if not st.button(label, type="primary", key=f"{key}_save"):
        return None
    errors = field_errors(name if campaign is None else None, description, values)
    for field_key, message in errors.items():
        slots[field_key].error(message, icon=":material/error:")
    if errors:
        return None  # nothing reaches the store; the fields keep what was typed
    return CampaignInput(name, description, values, uploads)


def settings_of(values: dict[str, Any]) -> Settings:
    """Settings from form values, raising the store's SettingsError for bad ones."""
    known = {f.name for f in fields(Settings)}
    return as_settings({k: v for k, v in values.items() if k in known})
