"""The web UI in a real browser: headless Chromium over WebDriver (selenium).

Scenarios (each step asserts what the page shows and what the server stored):
a contributor signs in with the keyboard alone and requests Production for a
version; an approver, in another browser session, finds it in the inbox and
approves it with the keyboard; the version page then shows Production and the
trail shows both; the requester sees no approve button on their own request
and a forged POST from their page is refused; a POST without the CSRF token is
refused; a viewer sees no write control; sign-out ends the session.

Every page is checked by axe-core (no serious or critical violation) and
screenshotted at 375 px and 1440 px wide.

usage: python browser.py BASE_URL ADMIN_PASSWORD AXE_JS SCREENSHOT_DIR
"""

import json
import pathlib
import sys
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

BASE, ADMIN_PASSWORD, AXE_JS, SHOTS = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
AXE = pathlib.Path(AXE_JS).read_text()
SHOT_DIR = pathlib.Path(SHOTS)
SHOT_DIR.mkdir(parents=True, exist_ok=True)
WIDTHS = (375, 1440)
checked_pages = []


def api(method, path, token=None, body=None):
    """Calls the JSON API; returns (status, parsed body)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if body is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
            return response.status, json.loads(text) if text else None
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


def setup():
    status, login = api("POST", "/api/v1/auth/token", body={"username": "admin", "password": ADMIN_PASSWORD})
    assert status == 200, login
    admin = login["access_token"]
    for username, role in [("carol", "contributor"), ("april", "approver"), ("vic", "viewer")]:
        status, body = api("POST", "/api/v1/users", admin,
                           {"username": username, "password": f"{username}-password", "role": role})
        assert status == 201, body
    status, body = api("POST", "/api/v1/models", admin,
                       {"name": "churn", "description": "Predicts who leaves", "tags": {"team": "growth"}})
    assert status == 201, body
    for n in (1, 2):
        status, body = api("POST", "/api/v1/models/churn/versions", admin,
                           {"source": f"s3://models/churn/{n}", "run_id": f"run-{n}"})
        assert status == 201, body
    status, body = api("POST", "/api/v1/models/churn/versions/1/stage", admin, {"stage": "Staging"})
    assert status == 200, body
    status, body = api("PUT", "/api/v1/models/churn/aliases/candidate", admin, {"version": 1})
    assert status == 200, body
    return admin


def browser():
    options = Options()
    for flag in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(30)
    return driver


def wait(driver, condition, what):
    try:
        return WebDriverWait(driver, 20).until(condition)
    except Exception as error:  # noqa: BLE001 - say what did not appear
        raise AssertionError(f"{what}: not seen within 20 s on {driver.current_url}\n{driver.page_source[:3000]}") from error


def check_page(driver, name):
    """axe-core finds no serious or critical violation; screenshots at both widths."""
    driver.execute_script(AXE)
    result = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations)).catch(e => done(String(e)));"
    )
    assert isinstance(result, list), result
    bad = [(v["id"], v["impact"], v["help"], [n["target"] for n in v["nodes"]][:3])
           for v in result if v.get("impact") in ("serious", "critical")]
    assert not bad, f"axe on {name} ({driver.current_url}): {bad}"
    for width in WIDTHS:
        driver.set_window_size(width, 1000)
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(width, min(max(height, 600), 4000))
        # nothing wider than the window at 375 px: legible without scrolling sideways
        if width == 375:
            overflow = driver.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"{name} scrolls sideways at 375 px by {overflow} px"
        driver.save_screenshot(str(SHOT_DIR / f"{name}-{width}.png"))
    driver.set_window_size(1440, 1000)
    checked_pages.append(name)


def sign_in_with_keyboard(driver, username, password):
    driver.get(BASE + "/ui/signin")
    field = wait(driver, ec.presence_of_element_located((By.ID, "username")), "the sign-in form")
    field.send_keys(username, Keys.TAB, password, Keys.ENTER)
    wait(driver, ec.presence_of_element_located((By.CSS_SELECTOR, "form.signout")), f"{username} signed in")


def press_button(driver, label):
    """Tabs through the page until the button named `label` has the focus, then presses Enter."""
    body = driver.find_element(By.TAG_NAME, "body")
    body.click()
    for _ in range(80):
        active = driver.switch_to.active_element
        if active.tag_name == "button" and active.text.strip() == label:
            active.send_keys(Keys.ENTER)
            return
        active.send_keys(Keys.TAB)
    raise AssertionError(f"no '{label}' button reachable with Tab on {driver.current_url}")


def post_from_page(driver, path, fields):
    """A POST the page's own origin sends (what a forged form would do); its status."""
    return driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]), redirect: 'manual'})"
        ".then(r => done(r.status)).catch(e => done(String(e)));",
        path, fields)


def main():
    admin = setup()
    carol, april, vic = browser(), browser(), browser()
    try:
        # the sign-in page itself
        carol.get(BASE + "/ui/signin")
        check_page(carol, "signin")

        # a contributor requests Production, keyboard only
        sign_in_with_keyboard(carol, "carol", "carol-password")
        carol.get(BASE + "/ui/models")
        wait(carol, ec.presence_of_element_located((By.LINK_TEXT, "churn")), "the model in the list")
        check_page(carol, "models")
        carol.find_element(By.LINK_TEXT, "churn").click()
        wait(carol, ec.title_contains("churn"), "the model page")
        check_page(carol, "model")
        carol.get(BASE + "/ui/models/churn/versions/1")
        wait(carol, ec.presence_of_element_located((By.ID, "to-stage")), "the request form")
        check_page(carol, "version")
        Select(carol.find_element(By.ID, "to-stage")).select_by_visible_text("Production")
        carol.find_element(By.ID, "request-comment").send_keys("AUC 0.91 on the holdout")
        press_button(carol, "Request the move")
        wait(carol, ec.title_contains("Request 1"), "the new request's page")
        assert "pending" in carol.find_element(By.TAG_NAME, "h1").text
        # no approve button for the requester, and a forged approval is refused
        assert not carol.find_elements(By.CSS_SELECTOR, "button.approve"), "the requester sees Approve"
        csrf = carol.find_element(By.NAME, "csrf").get_attribute("value")
        assert post_from_page(carol, "/ui/requests/1/approve", {"csrf": csrf}) == 403
        # and a POST without the CSRF token is refused
        assert post_from_page(carol, "/ui/requests/1/cancel", {}) == 403
        status, request = api("GET", "/api/v1/transition-requests/1", admin)
        assert status == 200 and request["status"] == "pending" and request["approvals"] == [], request
        check_page(carol, "request-own")

        # the approver, in another session, finds it in the inbox and approves
        sign_in_with_keyboard(april, "april", "april-password")
        april.get(BASE + "/ui/requests")
        link = wait(april, ec.presence_of_element_located((By.LINK_TEXT, "Request 1")), "the request in the inbox")
        check_page(april, "inbox")
        link.click()
        wait(april, ec.presence_of_element_located((By.CSS_SELECTOR, "button.approve")), "the approve button")
        check_page(april, "request")
        april.find_element(By.ID, "decision-comment").send_keys("reviewed the metrics")
        press_button(april, "Approve")
        wait(april, ec.presence_of_element_located((By.CSS_SELECTOR, "h1 .status-applied")), "the applied request")
        status, version = api("GET", "/api/v1/models/churn/versions/1", admin)
        assert version["current_stage"] == "Production", version

        # the version page shows Production, and the trail both
        carol.get(BASE + "/ui/models/churn/versions/1")
        heading = wait(carol, ec.presence_of_element_located((By.TAG_NAME, "h1")), "the version page").text
        assert "Production" in heading, heading
        trail = carol.find_element(By.CSS_SELECTOR, "ol.timeline").text
        assert "Requested Staging → Production by carol" in trail, trail
        assert "Approved the request by april" in trail, trail
        assert "Moved Staging → Production by april" in trail, trail
        check_page(carol, "version-promoted")

        # the other pages, for axe and the screenshots
        for path, name in [
            ("/ui/compare?model=churn&a=1&b=2", "compare"),
            ("/ui/audit", "audit"),
            ("/ui/policy", "policy"),
            ("/ui/models/ghost", "error"),
        ]:
            april.get(BASE + path)
            wait(april, ec.presence_of_element_located((By.TAG_NAME, "h1")), name)
            check_page(april, name)
        sign_in_with_keyboard(vic, "admin", ADMIN_PASSWORD)
        for path, name in [("/ui/admin/users", "users"), ("/ui/admin/tokens", "tokens")]:
            vic.get(BASE + path)
            wait(vic, ec.presence_of_element_located((By.TAG_NAME, "h1")), name)
            check_page(vic, name)
        vic.find_element(By.CSS_SELECTOR, "form.signout button").click()
        wait(vic, ec.title_contains("Sign in"), "signed out")

        # a viewer sees no write control
        sign_in_with_keyboard(vic, "vic", "vic-password")
        vic.get(BASE + "/ui/models/churn/versions/2")
        wait(vic, ec.presence_of_element_located((By.TAG_NAME, "h1")), "the version page")
        assert not vic.find_elements(By.ID, "to-stage"), "a viewer sees the request form"
        vic.get(BASE + "/ui/requests/1")
        wait(vic, ec.presence_of_element_located((By.TAG_NAME, "h1")), "the request page")
        assert not vic.find_elements(By.CSS_SELECTOR, "form.decision"), "a viewer sees decision buttons"
        assert not vic.find_elements(By.LINK_TEXT, "Admin"), "a viewer sees the admin pages"

        # sign-out ends the session
        vic.find_element(By.CSS_SELECTOR, "form.signout button").click()
        wait(vic, ec.title_contains("Sign in"), "the sign-in page after signing out")
        vic.get(BASE + "/ui/models")
        wait(vic, ec.title_contains("Sign in"), "the sign-in page for a signed-out browser")
        assert "/ui/signin" in vic.current_url, vic.current_url
    finally:
        for driver in (carol, april, vic):
            driver.quit()
    print(f"browser scenarios passed; axe found no serious or critical violation on {len(checked_pages)} pages "
          f"({', '.join(checked_pages)}); screenshots at {' and '.join(map(str, WIDTHS))} px in {SHOT_DIR}")


main()
