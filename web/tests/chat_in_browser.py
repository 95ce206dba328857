"""The web client in a real browser: two people in two headless Chromium sessions chat through the
local gateway (the page on its own origin, the REST API, the WebSocket API and the S3 server on
theirs), finding everything by the names a screen reader reads.

Run by scripts/browser-test (which scripts/test runs): WEB_URL names the page; SCREENSHOTS a
folder for the screenshots; METRICS a file for what the run measured (first paint, load).
Every wait is bounded; a failure saves both browsers' screenshots and console logs.
"""

import json
import os
import struct
import sys
import tempfile
import time
import traceback
import zlib

from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import WebDriverWait

WEB_URL = os.environ.get("WEB_URL", "http://127.0.0.1:3003/")
SHOTS = os.environ.get("SCREENSHOTS") or tempfile.mkdtemp(prefix="chathub-shots-")
METRICS = os.environ.get("METRICS")
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
WAIT = float(os.environ.get("BROWSER_WAIT", "15"))
RUN = str(int(time.time() * 1000))[-6:]


def browser():
    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,860",
                "--disable-gpu", "--lang=en-US"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)


def wait(driver, what, condition, timeout=WAIT):
    try:
        # The page re-renders what changes: an element found a moment ago may be gone; look again.
        return WebDriverWait(driver, timeout, poll_frequency=0.05, ignored_exceptions=[StaleElementReferenceException]).until(
            lambda d: condition(d))
    except TimeoutException:
        raise AssertionError(f"timed out waiting for {what}") from None


def by_label(driver, label):
    """The control a <label> names, or one carrying that aria-label."""
    found = driver.find_elements(By.XPATH, f"//label[normalize-space()='{label}']")
    if found and found[0].get_attribute("for"):
        return driver.find_element(By.ID, found[0].get_attribute("for"))
    return driver.find_element(By.CSS_SELECTOR, f"[aria-label='{label}']")


def button(scope, name):
    """A button by its accessible name (its text, or its aria-label)."""
    for b in scope.find_elements(By.CSS_SELECTOR, "button"):
        if b.get_attribute("aria-label") == name or b.text.strip() == name:
            return b
    raise AssertionError(f"no button {name!r}")


def log_of(driver):
    return driver.find_element(By.CSS_SELECTOR, "[role='log']")


def message_with(driver, text):
    """The message (in the open conversation's log) whose content is `text`, once shown."""
    def find(d):
        for li in log_of(d).find_elements(By.CSS_SELECTOR, "li.message"):
            content = li.find_elements(By.CSS_SELECTOR, ".content")
            if content and content[0].text == text:
                return li
        return False
    return wait(driver, f"message {text!r}", find)


def conversation_entry(driver, name):
    nav = driver.find_element(By.CSS_SELECTOR, "nav[aria-label='Conversations']")
    for b in nav.find_elements(By.CSS_SELECTOR, "button.conversation"):
        if b.find_element(By.CSS_SELECTOR, ".name").text == name:
            return b
    return None


def sign_up(driver, username, password):
    driver.get(WEB_URL)
    wait(driver, "the sign-in form", lambda d: d.find_elements(By.XPATH, "//label[normalize-space()='Username']"))
    by_label(driver, "Username").send_keys(username)
    by_label(driver, "Password").send_keys(password)
    button(driver, "Create account").click()
    wait(driver, "the conversation list", lambda d: d.find_elements(By.CSS_SELECTOR, "nav[aria-label='Conversations']"))


def compose(driver, text):
    box = by_label(driver, "Message")
    box.send_keys(text)
    button(driver, "Send").click()


def png(width, height):
    """A small PNG (a gradient), written by hand: no imaging library needed."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((x * 255 // width, y * 255 // height, 160)) for x in range(width))
        for y in range(height))
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def first_paint(driver):
    entries = driver.execute_script(
        "return performance.getEntriesByType('paint').map(e => [e.name, e.startTime]);")
    paints = dict(entries)
    nav = driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n ? n.loadEventEnd : null;")
    return paints.get("first-contentful-paint"), nav


def shot(driver, name):
    os.makedirs(SHOTS, exist_ok=True)
    driver.save_screenshot(os.path.join(SHOTS, f"{name}.png"))


def scenario(ann, bob, metrics):
    ann_name, bob_name = f"ann{RUN}", f"bob{RUN}"
    password = "correct horse battery"

    # The sign-in page, and how fast it paints (a first visit of this origin).
    ann.get(WEB_URL)
    wait(ann, "the sign-in form", lambda d: d.find_elements(By.XPATH, "//label[normalize-space()='Username']"))
    paint, load = first_paint(ann)
    metrics["first_contentful_paint_ms"], metrics["load_event_ms"] = paint, load
    assert button(ann, "Sign in") and button(ann, "Create account")
    shot(ann, "sign-in")

    sign_up(ann, ann_name, password)
    sign_up(bob, bob_name, password)

    # An avatar, uploaded from the page straight to storage, shown in the header.
    path = os.path.join(tempfile.mkdtemp(), "avatar.png")
    with open(path, "wb") as f:
        f.write(png(32, 32))
    ann.find_element(By.ID, "avatar").send_keys(path)
    wait(ann, "the avatar shown", lambda d: [i for i in d.find_elements(By.CSS_SELECTOR, "header .avatar img")
                                            if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)])

    # Contacts with presence: bob is online, live.
    by_label(ann, "Add contact").send_keys(bob_name + Keys.ENTER)
    contact = f"ul.contacts li[data-username='{bob_name}'] .presence"
    wait(ann, "bob online", lambda d: [p for p in d.find_elements(By.CSS_SELECTOR, contact) if p.get_attribute("aria-label") == "online"])

    # ann finds bob in the directory and starts a direct conversation.
    button(ann, "New conversation").click()
    by_label(ann, "Find people").send_keys(bob_name)
    wait(ann, "bob in the directory", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".results button")
                                                 if b.text == f"Add {bob_name}"])[0].click()
    button(ann, "Start conversation").click()
    wait(ann, "the conversation", lambda d: d.find_elements(By.CSS_SELECTOR, "[role='log']"))
    assert conversation_entry(ann, bob_name), "ann's list names the conversation after bob"

    # A message: shown at once, confirmed by the answer (it gets its id).
    compose(ann, "Hello Bob")
    sent = message_with(ann, "Hello Bob")
    wait(ann, "the send confirmed", lambda d: message_with(d, "Hello Bob").get_attribute("data-id"))

    # bob's list gets the conversation live, with the message unread.
    entry = wait(bob, "the conversation in bob's list", lambda d: conversation_entry(d, ann_name))
    wait(bob, "an unread count", lambda d: "1 unread" in (conversation_entry(d, ann_name).get_attribute("innerHTML") or ""))
    entry.click()
    message_with(bob, "Hello Bob")
    wait(bob, "the unread count cleared", lambda d: "unread" not in conversation_entry(d, ann_name).get_attribute("innerHTML"))

    # Typing: bob types, ann sees it.
    by_label(bob, "Message").send_keys("Hi")
    wait(ann, "bob typing", lambda d: f"{bob_name} is typing" in d.find_element(By.CSS_SELECTOR, ".typing").text)
    by_label(bob, "Message").send_keys(" Ann" + Keys.ENTER)
    hi = message_with(ann, "Hi Ann")

    # A reply.
    button(hi, "Reply").click()
    compose(ann, "Reply here")
    reply = message_with(bob, "Reply here")
    quote = reply.find_element(By.CSS_SELECTOR, ".quote").text
    assert "Hi Ann" in quote, quote

    # An edit.
    button(message_with(ann, "Hello Bob"), "Edit").click()
    editor = by_label(ann, "Edit message")
    editor.clear()
    editor.send_keys("Hello Bob, again" + Keys.ENTER)
    edited = message_with(bob, "Hello Bob, again")
    assert "(edited)" in edited.find_element(By.CSS_SELECTOR, ".meta").text

    # A delete.
    compose(ann, "oops")
    message_with(bob, "oops")
    button(message_with(ann, "oops"), "Delete").click()
    message_with(bob, "This message was deleted.")

    # An image, uploaded from the page straight to storage, shown inline on both sides.
    path = os.path.join(tempfile.mkdtemp(), "gradient.png")
    with open(path, "wb") as f:
        f.write(png(64, 48))
    ann.find_element(By.ID, "attach").send_keys(path)
    button(ann, "Send").click()
    for driver in (ann, bob):
        img = wait(driver, "the image shown", lambda d: [i for i in log_of(d).find_elements(By.CSS_SELECTOR, "img.inline-image")
                                                         if d.execute_script("return arguments[0].complete && arguments[0].naturalWidth", i)])
        assert driver.execute_script("return arguments[0].naturalWidth", img[0]) == 64

    # A reaction and a pin, live on the other side.
    target = message_with(bob, "Hello Bob, again")
    button(target, "React").click()
    button(target, "React with 👍").click()
    wait(ann, "bob's reaction", lambda d: [b for b in message_with(d, "Hello Bob, again").find_elements(By.CSS_SELECTOR, ".reaction")
                                          if b.text == "👍 1"])
    button(message_with(ann, "Hi Ann"), "Pin").click()
    for driver, who in ((bob, "bob"), (ann, "ann")):
        wait(driver, f"the pin on {who}'s page", lambda d: "pinned" in message_with(d, "Hi Ann").find_element(By.CSS_SELECTOR, ".meta").text)
    wait(ann, "the notices gone", lambda d: not d.find_element(By.CSS_SELECTOR, "p.status").is_displayed(), timeout=8)
    shot(ann, "conversation")

    # Read markers: bob writes while ann looks elsewhere; ann's list counts it, reading clears it
    # for good (the marker is on the server: a reload still shows it read).
    button(ann, "New conversation").click()
    compose(bob, "Are you there?")
    wait(ann, "an unread count", lambda d: "1 unread" in (conversation_entry(d, bob_name).get_attribute("innerHTML") or ""))
    shot(ann, "unread")
    conversation_entry(ann, bob_name).click()
    message_with(ann, "Are you there?")
    wait(ann, "read", lambda d: "unread" not in conversation_entry(d, bob_name).get_attribute("innerHTML"))

    # Away and back: bob's socket drops and stays down while ann writes, edits and reacts; when it
    # comes back, bob's page catches up (the sync feed, then `after=`).
    bob.execute_script("window.chathub.chat.socket.close()")
    compose(ann, "While you were away")
    message_with(ann, "While you were away")
    wait(ann, "sent", lambda d: message_with(d, "While you were away").get_attribute("data-id"))
    button(message_with(ann, "Reply here"), "Edit").click()
    editor = by_label(ann, "Edit message")
    editor.clear()
    editor.send_keys("Reply here, edited while bob was away" + Keys.ENTER)
    message_with(ann, "Reply here, edited while bob was away")
    time.sleep(0.3)
    assert not [li for li in log_of(bob).find_elements(By.CSS_SELECTOR, ".content") if li.text == "While you were away"]
    bob.execute_script("window.chathub.chat.socket.connect()")
    message_with(bob, "While you were away")
    message_with(bob, "Reply here, edited while bob was away")

    # A group, named, from the directory; bob's list gets it live.
    button(ann, "New conversation").click()
    by_label(ann, "Find people").send_keys(bob_name)
    wait(ann, "bob in the directory", lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, ".results button")
                                                 if b.text == f"Add {bob_name}"])[0].click()
    by_label(ann, "Group name (optional; a direct conversation has none)").send_keys("Lunch club")
    button(ann, "Start conversation").click()
    wait(ann, "the group open", lambda d: "Lunch club" in d.find_element(By.ID, "conversation-title").text)
    assert "2 members" in ann.find_element(By.ID, "conversation-title").text
    # 60 messages (sent by the page's own API client, as a script in the console would), then
    # bob scrolls back past the first page of 50.
    ann.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const chat = window.chathub.chat;
        (async () => {
          for (let i = 0; i < 60; i++) await chat.api.post(`/conversations/${chat.openId}/messages`, {content: `lunch ${i}`});
        })().then(() => done(true), (e) => done(String(e)));
    """)
    wait(bob, "the group in bob's list", lambda d: conversation_entry(d, "Lunch club")).click()
    message_with(bob, "lunch 59")
    assert not [c for c in log_of(bob).find_elements(By.CSS_SELECTOR, ".content") if c.text == "lunch 0"]
    button(bob, "Load earlier messages").click()
    message_with(bob, "lunch 0")
    wait(bob, "no more to load", lambda d: not d.find_element(By.CSS_SELECTOR, "button.earlier").is_displayed())
    # bob's notification setting for the group, kept by the server.
    from selenium.webdriver.support.select import Select
    Select(by_label(bob, "Notifications")).select_by_value("mentions")
    wait(bob, "the setting saved", lambda d: "Notifications: mentions." in d.find_element(By.CSS_SELECTOR, "p.status").text)
    bob.refresh()
    wait(bob, "the group after a reload", lambda d: d.find_elements(By.ID, "notifications"))
    assert Select(by_label(bob, "Notifications")).first_selected_option.get_attribute("value") == "mentions"
    conversation_entry(bob, ann_name).click()
    wait(bob, "the direct conversation", lambda d: ann_name in d.find_element(By.ID, "conversation-title").text)
    conversation_entry(ann, bob_name).click()
    wait(ann, "the direct conversation", lambda d: bob_name in d.find_element(By.ID, "conversation-title").text)

    # Reload: still signed in (the refresh token in this tab), everything where it was.
    for driver, other in ((ann, bob_name), (bob, ann_name)):
        driver.refresh()
        wait(driver, "the list after a reload", lambda d: conversation_entry(d, other))
        if not driver.find_elements(By.CSS_SELECTOR, "[role='log']"):
            conversation_entry(driver, other).click()
        for text in ("Hello Bob, again", "Hi Ann", "Reply here, edited while bob was away", "This message was deleted.",
                     "Are you there?", "While you were away"):
            message_with(driver, text)
        wait(driver, "the reaction after a reload",
             lambda d: [b for b in message_with(d, "Hello Bob, again").find_elements(By.CSS_SELECTOR, ".reaction") if b.text == "👍 1"])
        assert "pinned" in message_with(driver, "Hi Ann").find_element(By.CSS_SELECTOR, ".meta").text
        wait(driver, "the image after a reload", lambda d: log_of(d).find_elements(By.CSS_SELECTOR, "img.inline-image"))
        assert "unread" not in conversation_entry(driver, other).get_attribute("innerHTML")
    shot(bob, "after-reload")

    # Signing out ends the session: the page is back to the sign-in form, and stays there on reload;
    # bob's last socket closed, ann sees bob offline.
    button(bob, "Sign out").click()
    wait(ann, "bob offline", lambda d: [p for p in d.find_elements(By.CSS_SELECTOR, contact) if p.get_attribute("aria-label") == "offline"])
    wait(bob, "the sign-in form", lambda d: d.find_elements(By.XPATH, "//label[normalize-space()='Username']"))
    bob.refresh()
    wait(bob, "the sign-in form after a reload", lambda d: d.find_elements(By.XPATH, "//label[normalize-space()='Username']"))


def main():
    ann, bob = browser(), browser()
    metrics = {}
    started = time.monotonic()
    try:
        scenario(ann, bob, metrics)
    except Exception:
        traceback.print_exc()
        for name, driver in (("ann", ann), ("bob", bob)):
            try:
                shot(driver, f"failed-{name}")
                for entry in driver.get_log("browser"):
                    print(f"{name} console: {entry['level']} {entry['message']}", file=sys.stderr)
            except Exception:
                pass
        print(f"screenshots in {SHOTS}", file=sys.stderr)
        return 1
    finally:
        for driver in (ann, bob):
            driver.quit()
    metrics["scenario_seconds"] = round(time.monotonic() - started, 1)
    if METRICS:
        with open(METRICS, "w") as f:
            json.dump(metrics, f)
    print(f"the web client: two users chatted in Chromium in {metrics['scenario_seconds']} s; "
          f"first contentful paint {metrics['first_contentful_paint_ms']} ms; screenshots in {SHOTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
