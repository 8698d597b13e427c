"""Campaigns page on a real DuckDB: demo campaign, create with uploads, go live, link, bad input, delete."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import cv2
import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from accounts.roles import Staff
from app_state import DEMO_NAME, campaign_labels
from campaigns.errors import CampaignError, CampaignStateError, MediaError, SettingsError
from campaigns.inputs import NAME_MAX_CHARS
from campaigns.store import Store
from tests.app.staff import app_store, assert_needs_login, open_page, texts
from tests.campaigns.conftest import held_by_another_process, jpeg_bytes, mp4_bytes, png_bytes
from ui import campaign_actions, links
from ui.campaign_form import CampaignInput, Upload, error_text, field_errors
from ui.campaign_view import NEW

ADMIN = Staff("admin", "admin")  # who the direct action calls act as


def _new_form(app: AppTest) -> AppTest:
    app.selectbox[0].set_value(NEW).run()
    assert app.subheader[0].value == "New campaign"
    return app


def _number(app: AppTest, label: str):  # noqa: ANN202 - AppTest widget
    return next(n for n in app.number_input if n.label == label)


def _create(app: AppTest) -> None:
    next(b for b in app.button if b.label == "Create campaign").click().run()
    assert not app.exception, app.exception


def _shown_under(app: AppTest, label: str) -> str | None:
    """The error shown right under the widget labelled ``label`` (None when the next element is none)."""
    def walk(children: list) -> str | None | bool:
        for i, node in enumerate(children):
            if getattr(node, "label", None) == label:
                after = children[i + 1] if i + 1 < len(children) else None
                return after.value if after is not None and after.type == "error" else None
            inner = getattr(node, "children", None)
            if inner:
                found = walk(list(inner.values()))
                if found is not False:
                    return found
        return False  # no widget with that label here

    found = walk(list(app.main.children.values()))
    assert found is not False, f"no widget labelled {label!r}"
    return found  # type: ignore[return-value]


def test_campaigns_page_needs_a_login(new_app: Callable[..., AppTest]) -> None:
    assert_needs_login(new_app(), "campaigns")


def test_the_demo_campaign_is_live_with_its_link_qr_code_and_progress(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "campaigns")
    demo = app_store().campaign(DEMO_NAME)
    assert app.subheader[0].value == DEMO_NAME and demo.status == "live"
    link = app.code[0].value
    assert link == f"http://localhost:8501/?c={demo.token}"
    assert parse_qs(urlparse(link).query) == {"c": [demo.token]}
    assert len(app.image) == 3  # QR code and the two variant previews
    data = app_store().load(demo)
    metrics = {m.label: m.value for m in app.metric}
    funnel = app_store().funnel(demo)  # every outcome of the demo's simulated visitors
    shown = {label: value for label, value in metrics.items() if label in ("Complete", "Abandoned", "Declined")}
    assert shown == {"Complete": str(funnel["complete"]), "Abandoned": str(funnel["abandoned"]),
                     "Declined": str(funnel["declined"])}
    assert metrics["Snapshots stored"] == f"{int(data.counts['snapshots'].sum()):,}"
    assert metrics["Face found"] == f"{data.counts['faces'].sum() / data.counts['snapshots'].sum():.0%}"
    assert not app.file_uploader, "a live campaign's variants cannot be replaced"


def test_creating_a_campaign_with_an_image_and_a_video_then_going_live(
        new_app: Callable[..., AppTest], tmp_path: Path) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    app.text_input[0].input("Summer sale")
    app.text_area[0].input("Beach poster against the video spot")
    app.file_uploader[0].upload("poster.jpg", jpeg_bytes(64, 48), "image/jpeg")
    app.file_uploader[1].upload("spot.mp4", mp4_bytes(tmp_path), "video/mp4")
    _number(app, "Minimum participants (2–100,000)").set_value(24)
    _number(app, "Confidence threshold (0–1)").set_value(0.7)
    app.run()
    assert not app.error, texts(app, "error")
    assert len(app.image) == 1 and len(app.get("video")) == 1  # previews of both uploads
    next(b for b in app.button if b.label == "Create campaign").click().run()
    assert not app.exception and not app.error, texts(app, "error")
    assert texts(app, "success") == ["Campaign “Summer sale” created as a draft."]
    created = app_store().campaign("Summer sale")
    variants = app_store().variants(created)
    assert (created.status, created.description) == ("draft", "Beach poster against the video spot")
    assert (created.settings.min_participants, created.settings.confidence_threshold) == (24, 0.7)
    assert created.labels == campaign_labels()
    assert {v: (x.kind, x.filename) for v, x in variants.items()} == {"A": ("image", "poster.jpg"),
                                                                      "B": ("video", "spot.mp4")}
    assert app.subheader[0].value == "Summer sale"  # the new campaign is selected

    next(b for b in app.button if b.label == "Go live").click().run()
    assert app_store().campaign("Summer sale").status == "live"
    assert app.code[0].value.endswith(f"/?c={created.token}")


@pytest.mark.parametrize(("filename", "data", "message"), [
    ("ad.png", b"this is not a picture", "is not a supported image"),
    ("ad.png", png_bytes()[:-20], "truncated PNG"),
    ("ad.jpg", jpeg_bytes()[:-2], "truncated JPEG"),
    ("ad.mp4", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200, "video"),
])
def test_bad_uploads_are_refused_with_a_message_and_nothing_is_stored(
        new_app: Callable[..., AppTest], filename: str, data: bytes, message: str) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    before = app_store().table_counts()
    app.text_input[0].input("Broken")
    app.file_uploader[0].upload(filename, data, "application/octet-stream")
    app.file_uploader[1].upload("b.png", png_bytes(), "image/png")
    app.run()
    assert any(message in e for e in texts(app, "error")), texts(app, "error")  # shown at once
    next(b for b in app.button if b.label == "Create campaign").click().run()
    assert not app.exception
    assert any(message in e for e in texts(app, "error"))
    assert app_store().table_counts() == before


def test_every_setting_shows_its_range_and_unit_before_anything_is_typed(new_app: Callable[..., AppTest]) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    assert {n.label for n in app.number_input} == {
        "Snapshot interval (seconds, 0.1–60)", "Image exposure (seconds, 1–600)", "Confidence threshold (0–1)",
        "Rating scale (points, 2–11)", "Minimum participants (2–100,000)", "Minimum face-found rate (0–1)",
        "Valence weight (0–1)"}
    name = app.text_input[0]
    assert (name.label, name.max_chars) == ("Campaign name", NAME_MAX_CHARS) and f"1–{NAME_MAX_CHARS}" in name.help
    assert all(u.proto.max_upload_size_mb == app_store().max_upload_bytes // 2**20 for u in app.file_uploader)


def test_an_empty_name_is_refused_at_the_name_field_and_nothing_is_stored(
        new_app: Callable[..., AppTest]) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    before = app_store().table_counts()
    for typed in ("", "   "):
        app.text_input[0].input(typed)
        app.run()
        _create(app)
        message = f"Campaign name: cannot be empty (enter 1–{NAME_MAX_CHARS} characters)"
        assert _shown_under(app, "Campaign name") == message
        assert texts(app, "error") == [message]  # at the field only, not under the button as well
        assert not texts(app, "success") and app.subheader[0].value == "New campaign"
    assert app_store().table_counts() == before


def test_out_of_range_settings_are_refused_each_at_its_field_and_nothing_is_stored(
        new_app: Callable[..., AppTest]) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    before = app_store().table_counts()
    app.text_input[0].input("Autumn")
    _number(app, "Snapshot interval (seconds, 0.1–60)").set_value(0.0)
    _number(app, "Rating scale (points, 2–11)").set_value(12)
    app.run()
    assert not app.error  # nothing is judged before the button
    _create(app)
    interval = "Snapshot interval (seconds, 0.1–60): must be a number from 0.1 to 60 seconds, not 0"
    scale = "Rating scale (points, 2–11): must be a whole number from 2 to 11 points, not 12"
    assert _shown_under(app, "Snapshot interval (seconds, 0.1–60)") == interval
    assert _shown_under(app, "Rating scale (points, 2–11)") == scale
    assert sorted(texts(app, "error")) == sorted([interval, scale])
    assert _number(app, "Snapshot interval (seconds, 0.1–60)").value == 0.0  # what was typed stays to be fixed
    assert app_store().table_counts() == before

    _number(app, "Snapshot interval (seconds, 0.1–60)").set_value(1.0)
    _number(app, "Rating scale (points, 2–11)").set_value(7)
    app.run()
    _create(app)
    assert not app.error and app_store().campaign("Autumn").settings.rating_scale == 7


def test_a_taken_name_is_refused_with_the_store_message(new_app: Callable[..., AppTest]) -> None:
    app = _new_form(open_page(new_app(), "campaigns"))
    before = app_store().table_counts()
    app.text_input[0].input(DEMO_NAME)
    app.run()
    _create(app)
    assert texts(app, "error") == [f"A campaign named '{DEMO_NAME}' already exists"]
    assert app_store().table_counts() == before


def test_a_drafts_edit_form_refuses_a_setting_at_its_field(new_app: Callable[..., AppTest]) -> None:
    draft = app_store().create_campaign("Draft one")
    app = open_page(new_app(), "campaigns")
    app.selectbox[0].set_value(draft.id).run()
    _number(app, "Valence weight (0–1)").set_value(1.5)
    app.run()
    next(b for b in app.button if b.label == "Save changes").click().run()
    message = "Valence weight (0–1): must be a number from 0 to 1, not 1.5"
    assert _shown_under(app, "Valence weight (0–1)") == message and texts(app, "error") == [message]
    assert app_store().campaign(draft.id).settings == draft.settings


def test_store_refusals_name_the_field_the_way_the_form_labels_it(data_dir: Path) -> None:
    store = Store.open(data_dir / "fields.duckdb")
    with pytest.raises(SettingsError) as caught:
        store.create_campaign("X", settings={"exposure_s": 0.5})
    assert (caught.value.field, str(caught.value)) == (
        "exposure_s", "setting exposure_s: must be a number from 1 to 600 seconds, not 0.5")  # as a CLI reads it
    assert error_text(caught.value) == ("Image exposure (seconds, 1–600): "
                                        "must be a number from 1 to 600 seconds, not 0.5")
    store.create_campaign("n" * NAME_MAX_CHARS)  # the form's limit is the store's
    with pytest.raises(CampaignError, match=rf"^Campaign name: {NAME_MAX_CHARS + 1} characters is too long"):
        store.create_campaign("n" * (NAME_MAX_CHARS + 1))
    assert field_errors("n" * (NAME_MAX_CHARS + 1), "", {}) == {
        "name": f"Campaign name: {NAME_MAX_CHARS + 1} characters is too long (the most is {NAME_MAX_CHARS})"}
    assert store.table_counts()["campaigns"] == 1


def test_duplicate_close_and_delete_with_a_typed_name(new_app: Callable[..., AppTest]) -> None:
    app = open_page(new_app(), "campaigns")
    demo = app_store().campaign(DEMO_NAME)
    next(b for b in app.button if b.label == "Duplicate").click().run()
    copy = app_store().campaign(f"{DEMO_NAME} (copy)")
    assert (copy.status, copy.settings, copy.labels) == ("draft", demo.settings, demo.labels)
    assert {v: x.sha256 for v, x in app_store().variants(copy).items()} == {
        v: x.sha256 for v, x in app_store().variants(demo).items()}
    assert app_store().load(copy).participants.empty
    assert app.subheader[0].value == copy.name and len(app.file_uploader) == 2  # a draft can change variants

    next(t for t in app.text_input if t.label == "Type the campaign name to confirm").input("Demo").run()
    next(b for b in app.button if b.label == "Delete for good").click().run()
    assert texts(app, "error") == [f"To delete campaign '{copy.name}' type its name exactly; got 'Demo'"]
    next(t for t in app.text_input if t.label == "Type the campaign name to confirm").input(copy.name).run()
    next(b for b in app.button if b.label == "Delete for good").click().run()
    assert [c.name for c in app_store().campaigns()] == [DEMO_NAME]
    assert texts(app, "success") == [f"Deleted “{copy.name}” and all its data."]

    next(b for b in app.button if b.label == "Close campaign").click().run()
    assert app_store().campaign(DEMO_NAME).status == "closed"
    assert not app.code and not [b for b in app.button if b.label == "Go live"]


def test_a_second_server_on_the_data_folder_gets_a_plain_error(new_app: Callable[..., AppTest],
                                                               data_dir: Path) -> None:
    Store.open(data_dir / "app.duckdb").close()
    with held_by_another_process(data_dir / "app.duckdb") as pid:
        # Accounts live in the database too: the sign-in page itself says what is wrong.
        app = new_app()
        app.run()
        assert not app.exception
        [error] = texts(app, "error")
        assert error.startswith(f"The database file {data_dir / 'app.duckdb'} is in use by another process")
        assert f"PID {pid}" in error and "Please try again in a few minutes." in error
        assert not app.dataframe and not app.button
    open_page(app, "campaigns")  # the other server has stopped
    assert not app.exception and not texts(app, "error") and app.subheader[0].value == DEMO_NAME


def test_variants_of_a_live_campaign_cannot_be_replaced(data_dir: Path) -> None:
    store = Store.open(data_dir / "other.duckdb")
    campaign = store.create_campaign("Live one")
    for variant in "AB":
        store.set_variant(campaign, variant, png_bytes(value=10), f"{variant}.png")
    live = store.go_live(campaign)
    form = CampaignInput("Live one", "changed", live.settings.as_dict(), {"A": Upload("new.png", png_bytes())})
    with pytest.raises(CampaignStateError) as caught:
        campaign_actions.save_campaign(store, live, form, actor=ADMIN)
    assert error_text(caught.value) == ("Campaign 'Live one' is live; only a draft campaign can edit its settings")
    assert store.campaign(live.id).description == "" and store.variants(live)["A"].filename == "A.png"


def test_an_oversized_upload_is_refused_before_anything_is_written(data_dir: Path) -> None:
    store = Store.open(data_dir / "small.duckdb", max_upload_bytes=2000)
    big = jpeg_bytes(200, 150)  # random pixels: far over 2 kB
    form = CampaignInput("Big", "", {}, {"A": Upload("a.jpg", big)})
    with pytest.raises(MediaError, match=r"over the 0.0 MB limit"):
        campaign_actions.create_campaign(store, form, ("happy", "sad"), actor=ADMIN)
    assert store.table_counts()["campaigns"] == 0


def test_copy_names_and_participant_links() -> None:
    assert campaign_actions.copy_name("Ad", ["Ad", "Ad (copy)", "Ad (copy 2)"]) == "Ad (copy 3)"
    assert links.base_url("https://ads.example.org/app/", None) == "https://ads.example.org/app"
    assert links.base_url("https://internal:8501", "https://public.example.org") == "https://public.example.org"
    assert links.base_url(None, "") == links.DEFAULT_BASE_URL
    link = links.participant_link("https://x.org/", "a-b_c")
    assert link == "https://x.org/?c=a-b_c"
    image = cv2.imdecode(np.frombuffer(links.qr_png(link), np.uint8), cv2.IMREAD_COLOR)
    assert image is not None
    decoded, _, _ = cv2.QRCodeDetector().detectAndDecode(image)
    assert decoded == link
