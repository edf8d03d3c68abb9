"""What the tests do on the page, in the page's own terms (ids and classes of Sources/Server/WebUI)."""
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from conftest import wait_for

# Records the length of the newest answer every time the message list changes, with a timestamp, so a test can
# tell a streamed answer (many growing lengths) from one that appears at once.
WATCH_GROWTH = """
window.__answerLengths = [];
const messages = document.getElementById('messages');
new MutationObserver(() => {
  const answers = messages.querySelectorAll('.message.assistant .message-body');
  const last = answers[answers.length - 1];
  if (last) window.__answerLengths.push([performance.now(), last.textContent.length]);
}).observe(messages, { childList: true, subtree: true, characterData: true });
"""


def open_page(browser, base, clear=True):
    browser.get(base + "/")
    if clear:
        browser.execute_script("localStorage.clear()")
        browser.get(base + "/")
    wait_for(browser, lambda: "SmolLM2" in browser.find_element(By.ID, "model-name").text, 30, "model name from /props")


def set_settings(browser, **values):
    """Fills the settings dialog (keys: system_prompt, temperature, top_p, max_tokens, api_key, json_output) and saves."""
    browser.find_element(By.ID, "settings-button").click()
    wait_for(browser, lambda: browser.find_element(By.ID, "settings-dialog").is_displayed(), 5, "settings dialog opens")
    for name, value in values.items():
        field = browser.find_element(By.ID, "setting-" + name.replace("_", "-"))
        if isinstance(value, bool):  # a checkbox
            if field.is_selected() != value:
                field.click()
            continue
        field.clear()
        field.send_keys(str(value))
    browser.find_element(By.ID, "settings-save").click()
    wait_for(browser, lambda: not browser.find_element(By.ID, "settings-dialog").is_displayed(), 5, "settings dialog closes")


def read_settings(browser):
    browser.find_element(By.ID, "settings-button").click()
    wait_for(browser, lambda: browser.find_element(By.ID, "settings-dialog").is_displayed(), 5, "settings dialog opens")
    values = {name: browser.find_element(By.ID, "setting-" + name.replace("_", "-")).get_attribute("value")
              for name in ("system_prompt", "temperature", "top_p", "max_tokens", "api_key")}
    browser.find_element(By.ID, "settings-cancel").click()
    return values


def send(browser, text):
    box = browser.find_element(By.ID, "prompt-input")
    box.send_keys(text)
    box.send_keys(Keys.ENTER)


def answers(browser):
    return browser.find_elements(By.CSS_SELECTOR, "#messages .message.assistant")


def last_answer_text(browser):
    # Read in the page: the body being streamed is replaced every frame, so element handles go stale.
    return browser.execute_script(
        "const a = document.querySelectorAll('#messages .message.assistant .message-body');"
        "return a.length ? a[a.length - 1].innerText : ''")


def is_generating(browser):
    return browser.find_element(By.ID, "stop-button").is_displayed()


def wait_until_idle(browser, timeout=120):
    wait_for(browser, lambda: not is_generating(browser), timeout, "generation ends")


def wait_for_answer(browser, timeout=180):
    """Waits until the newest answer is finished: numbers under it, or an error. (Watching the Stop button
    instead could miss a generation that is over between two polls.)"""
    wait_for(browser, lambda: not is_generating(browser) and (last_stats(browser) or browser.execute_script(
        "const a = document.querySelectorAll('#messages .message.assistant');"
        "return a.length > 0 && a[a.length - 1].querySelector('.message-error') !== null")), timeout, "the answer is finished")


def last_stats(browser):
    return browser.execute_script(
        "const a = document.querySelectorAll('#messages .message.assistant .message-stats');"
        "return a.length ? a[a.length - 1].innerText : ''")


def severe_console_entries(browser):
    return [entry for entry in browser.get_log("browser") if entry["level"] == "SEVERE"]


def sleep_until(deadline):
    remaining = deadline - time.time()
    if remaining > 0:
        time.sleep(remaining)
