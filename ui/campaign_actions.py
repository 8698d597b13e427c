"""Campaign writes the campaigns page offers, each all-or-nothing for the user.

The store makes every single call one transaction; a form save is several
calls (create, then two uploads), so everything that can be checked is checked
before the first write, and a later failure undoes the earlier writes. Each
action first checks that the staff member's role allows it (``accounts.roles``;
the page hides what a role may not do, and this check holds even when a
button is reached anyway) and, once done, writes its audit log entry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from accounts.roles import Staff, require
from campaigns.errors import CampaignError
from campaigns.media import validate_media
from campaigns.store import Store
from campaigns.study import StudySetup
from campaigns.types import VARIANTS, Campaign
from ui.campaign_form import CampaignInput, settings_of


def _check_uploads(store: Store, form: CampaignInput) -> None:
    # The form checked what it could (a video is decoded to its end: seconds); the store checks again.
    for upload in form.uploads.values():
        if upload.info is None:
            validate_media(upload.data, upload.filename, store.max_upload_bytes)


def create_campaign(store: Store, form: CampaignInput, labels: Sequence[str], *, actor: Staff) -> Campaign:
    """Create a draft campaign with the uploaded variants; on any error nothing is stored."""
    require(actor.role, "create")
    settings = settings_of(form.settings)
    _check_uploads(store, form)
    campaign = store.create_campaign(form.name, description=form.description, settings=settings, labels=labels)
    try:
        for variant, upload in sorted(form.uploads.items()):
            store.set_variant(campaign, variant, upload.data, upload.filename)
    except BaseException:
        store.delete_campaign(campaign, campaign.name)
        raise
    store.audit(actor.username, "create", campaign, f"variants {', '.join(sorted(form.uploads)) or 'none'}")
    return campaign


def save_campaign(store: Store, campaign: Campaign, form: CampaignInput, *, actor: Staff) -> Campaign:
    """Apply description, settings and new uploads to a draft; on any error the old state stays."""
    require(actor.role, "edit")
    settings = settings_of(form.settings)
    _check_uploads(store, form)
    before = store.campaign(campaign.id)
    updated = store.edit_campaign(before, description=form.description, settings=settings)
    try:
        for variant, upload in sorted(form.uploads.items()):
            store.set_variant(updated, variant, upload.data, upload.filename)
    except BaseException:
        # A variant stored before the failing one stays replaced: uploads are
        # validated above, so this only happens when the campaign left draft meanwhile.
        store.edit_campaign(before, description=before.description, settings=before.settings)
        raise
    store.audit(actor.username, "edit", updated,
                "settings" + (f", variants {', '.join(sorted(form.uploads))}" if form.uploads else ""))
    return store.campaign(campaign.id)


def save_study(store: Store, campaign: Campaign, setup: StudySetup, *, actor: Staff) -> StudySetup:
    """Replace a draft's study setup (questions, quotas, target, panel link)."""
    require(actor.role, "edit")
    saved = store.set_study(campaign, setup)
    store.audit(actor.username, "edit", campaign,
                f"study setup: {len(saved.questions)} questions, {len(saved.quotas)} quotas")
    return saved


def copy_name(name: str, taken: Iterable[str]) -> str:
    """``<name> (copy)``, or ``(copy 2)``, ``(copy 3)``... when that is taken."""
    names = set(taken)
    candidate = f"{name} (copy)"
    number = 2
    while candidate in names:
        candidate = f"{name} (copy {number})"
        number += 1
    return candidate


def duplicate_campaign(store: Store, campaign: Campaign, *, actor: Staff) -> Campaign:
    """A new draft with the same description, settings, labels, variants and study setup (no participant data)."""
    require(actor.role, "duplicate")
    name = copy_name(campaign.name, (c.name for c in store.campaigns()))
    stored = store.variants(campaign)
    media = {v: (stored[v].filename, store.variant_media(campaign, v)) for v in VARIANTS if v in stored}
    copy = store.create_campaign(name, description=campaign.description, settings=campaign.settings,
                                 labels=campaign.labels)
    try:
        for variant, (filename, data) in media.items():
            store.set_variant(copy, variant, data, filename)
        store.set_study(copy, store.study(campaign))
    except BaseException:
        store.delete_campaign(copy, copy.name)
        raise
    store.audit(actor.username, "duplicate", copy, f"copy of “{campaign.name}” (id {campaign.id})")
    return copy


def delete_campaign(store: Store, campaign: Campaign, typed_name: str, *, actor: Staff) -> str:
    """Delete a campaign when ``typed_name`` is its name; returns what was done."""
    require(actor.role, "delete")
    store.delete_campaign(campaign, typed_name)
    store.audit(actor.username, "delete", campaign, f"was {campaign.status}")
    return f"Deleted “{campaign.name}” and all its data."


def status_action(store: Store, campaign: Campaign, action: str, *, actor: Staff) -> Campaign:
    """``go_live`` or ``close``: the store checks the status and both variants."""
    if action not in ("go_live", "close"):
        raise CampaignError(f"unknown campaign action {action!r}")
    require(actor.role, action)
    changed = store.go_live(campaign) if action == "go_live" else store.close_campaign(campaign)
    store.audit(actor.username, action, changed)
    return changed
