"""Staff roles in a real browser: an analyst is offered no way to delete a campaign, and an admin's
erasure of a participant is written to the audit log (read back from the data folder after the server
stopped, as the Users & audit page reads it)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from accounts.passwords import hash_password
from campaigns.store import Store
from tests.e2e.harness import PASSWORD, AppServer, FakeCamera, wait_for
from tests.e2e.participant import STEP_TIMEOUT_S

pytestmark = pytest.mark.e2e

Browser = Callable[[str, str | None], tuple[Any, FakeCamera]]
ANALYST_PASSWORD = "analyst-password-1"


def body(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def sign_in(driver: Any, url: str, username: str, password: str) -> None:
    """Open ``url`` (a staff address), fill the sign-in form and send it, as a person would."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    driver.get(url)
    name = wait_for(lambda: driver.find_element(By.CSS_SELECTOR, "input[name=username]"), STEP_TIMEOUT_S,
                    "the sign-in form")
    name.clear()
    name.send_keys(username)
    driver.find_element(By.CSS_SELECTOR, "input[name=password]").send_keys(password, Keys.ENTER)
    wait_for(lambda: f"Signed in as {username}" in body(driver), STEP_TIMEOUT_S, f"{username} signed in")


def click_text(driver: Any, xpath: str, what: str) -> None:
    from selenium.webdriver.common.by import By

    wait_for(lambda: driver.find_element(By.XPATH, xpath).click() or True, STEP_TIMEOUT_S, what)


def test_an_analyst_cannot_delete_and_an_admins_erasure_is_audited(
        app_server: Callable[[], AppServer], browser: Browser, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir(parents=True)
    with Store.open(data / "app.duckdb", media_dir=data / "media") as db:
        db.add_staff_user("admin", "admin", hash_password(PASSWORD))
        db.add_staff_user("ana", "analyst", hash_password(ANALYST_PASSWORD))
    server = app_server()
    driver, _ = browser("staff", None)

    sign_in(driver, server.url + "/", "ana", ANALYST_PASSWORD)
    wait_for(lambda: "Demo campaign" in body(driver) and "Participants by outcome" in body(driver),
             STEP_TIMEOUT_S, "the demo campaign on the Campaigns page")
    page = body(driver)
    assert "Signed in as ana (analyst)" in page
    for offered in ("Delete campaign", "Delete for good", "Close campaign", "New campaign", "Users & audit"):
        assert offered not in page, offered
    click_text(driver, "//button[normalize-space(.)='Sign out']", "the Sign out button")
    wait_for(lambda: driver.find_elements("css selector", "input[name=username]"), STEP_TIMEOUT_S, "signed out")

    sign_in(driver, server.url + "/results", "admin", PASSWORD)
    wait_for(lambda: "Confidence threshold" in body(driver), STEP_TIMEOUT_S, "the Results page")
    click_text(driver, "//*[@role='tab'][.//*[normalize-space(text())='Erase a participant']]", "the tab")
    click_text(driver, "//label[.//*[contains(text(), 'deleted for good')]]", "the confirmation tick")
    click_text(driver, "//button[normalize-space(.)='Erase participant']", "the Erase participant button")
    wait_for(lambda: "Erased participant" in body(driver), STEP_TIMEOUT_S, "the erasure's confirmation")
    server.stop()

    with Store.open(data / "app.duckdb", media_dir=data / "media", read_only=True) as db:
        erasures = [e for e in db.audit_entries() if e.action == "erase"]
    assert [(e.username, e.campaign_name) for e in erasures] == [("admin", "Demo campaign")]
    assert erasures[0].detail.startswith("participant ")
