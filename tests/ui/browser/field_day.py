#!/usr/bin/python3
"""A lawyer's morning through the app alone, in a real headless Chromium (WebDriver), then the
CLI confirms every record field by field. Saves screenshots of the main screens in kk, ru and en.

  field_day.py --caravan BUILD/cli/caravan --out DIR

Run by CTest ("ui browser: ..."). Exits non-zero on the first thing that is not as a lawyer
would expect; every wait is bounded.
"""
import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.support.ui import Select, WebDriverWait


def fail(message):
    print("FAILED: " + message, flush=True)
    sys.exit(1)


def start_app(caravan, db):
    proc = subprocess.Popen([caravan, "--db", db, "--lang", "kk", "ui", "--no-browser"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"(http://127\.0\.0\.1:\d+/\?k=[0-9a-f]+)", line)
        if m:
            return proc, m.group(1)
    proc.kill()
    fail("caravan ui printed no link within 20 s")


def browser():
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--window-size=1366,768", "--disable-gpu",
                "--disable-dev-shm-usage", "--lang=kk"]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, out, name):
    driver.save_screenshot(os.path.join(out, name + ".png"))


def fill_consultation(driver, c):
    Select(driver.find_element(By.ID, "gender")).select_by_value(c["gender"])
    Select(driver.find_element(By.ID, "age")).select_by_value(c["age"])
    Select(driver.find_element(By.ID, "category")).select_by_value(c["category"])
    if c.get("vulnerable"):
        driver.find_element(By.ID, "vulnerable").click()
    for topic in c["topics"]:
        driver.find_element(By.CSS_SELECTOR, "input[name=topic][value='%s']" % topic).click()
    Select(driver.find_element(By.ID, "outcome")).select_by_value(c["outcome"])
    if c.get("follow_up"):
        driver.find_element(By.ID, "follow_up").click()
    Select(driver.find_element(By.ID, "clang")).select_by_value(c["lang"])
    driver.find_element(By.ID, "question").send_keys(c["question"])
    driver.find_element(By.ID, "advice").send_keys(c["advice"])


CONSULTATIONS = [
    dict(gender="female", age="33-45", category="unemployed", vulnerable=True,
         topics=["land", "inheritance"], outcome="case", follow_up=True, lang="kk",
         question="Жер телімін мұраға алу", advice="Нотариусқа өтініш"),
    dict(gender="male", age="59+", category="older", topics=["benefits"], outcome="advice",
         lang="ru", question="Пенсия пересчёт", advice="Обратиться в ЦОН"),
    dict(gender="female", age="23-27", category="youth", topics=["family"], outcome="document",
         lang="kk", question="Алимент", advice="Сотқа арыз дайындалды"),
    dict(gender="male", age="46-58", category="business", topics=["tax", "credit"],
         outcome="referred", lang="ru", question="Налоговая проверка", advice="Направлен в ДГД"),
    dict(gender="unrecorded", age="unrecorded", category="unrecorded", topics=["other"],
         outcome="advice", lang="kk", question="Жалпы сұрақ", advice="Түсіндірілді"),
]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--caravan", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="caravan-ui-")
    db = os.path.join(work, "caravan.db")
    proc, url = start_app(args.caravan, db)
    driver = browser()
    # A page being replaced by the next one leaves stale elements behind: waits retry past them.
    wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,
                                                         NoSuchElementException))
    try:
        base = url.split("/?")[0]
        driver.get(url)
        if "?k=" in driver.current_url:
            fail("the launch secret stayed in the address bar")
        # First run, in Kazakh (the --lang the app was started with).
        shot(driver, args.out, "kk-setup")
        driver.find_element(By.ID, "lawyer").send_keys("Айгүл Сейітова")
        driver.find_element(By.ID, "region").send_keys("Жамбыл обл." + Keys.ENTER)
        wait.until(lambda d: d.find_elements(By.ID, "new_village"))
        driver.find_element(By.ID, "new_village").send_keys("Қордай")
        driver.find_element(By.CSS_SELECTOR, "form[action='/visit/start'] button").click()
        wait.until(lambda d: "Қордай" in d.find_element(By.ID, "visit-line").text)
        shot(driver, args.out, "kk-today")

        # Five consultations, each ready for the next person after saving.
        for i, c in enumerate(CONSULTATIONS):
            driver.get(base + "/consult/new")
            fill_consultation(driver, c)
            if i == 0:
                shot(driver, args.out, "kk-consultation")
            if i == 2:
                # A refresh mid-form: what was typed comes back.
                driver.refresh()
                if driver.find_element(By.ID, "question").get_attribute("value") != c["question"]:
                    fail("a refresh lost the half-filled form")
                if driver.find_element(By.ID, "draft-note").get_attribute("hidden") is not None:
                    fail("the restored draft was not announced")
            # Enter on the outcome select saves.
            driver.find_element(By.ID, "outcome").send_keys(Keys.ENTER)
            wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-saved]"))
            if driver.find_element(By.ID, "question").get_attribute("value"):
                fail("the form was not emptied after saving")

        # Bad input: no age. Nothing saved, the field named, what was typed kept.
        driver.get(base + "/lang?to=ru&back=/consult/new")
        bad = dict(CONSULTATIONS[1])
        Select(driver.find_element(By.ID, "gender")).select_by_value("male")
        driver.find_element(By.ID, "question").send_keys("Без возраста")
        driver.find_element(By.CSS_SELECTOR, "form.consult button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[aria-invalid=true]"))
        if driver.find_element(By.ID, "question").get_attribute("value") != "Без возраста":
            fail("a refused form lost what was typed")
        shot(driver, args.out, "ru-consultation-error")
        del bad

        driver.get(base + "/consultations")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
        if len(rows) != 5:
            fail("the list shows %d consultations, not 5" % len(rows))
        shot(driver, args.out, "ru-consultations")
        driver.get(base + "/lang?to=en&back=/consultations")
        shot(driver, args.out, "en-consultations")
        driver.get(base + "/lang?to=kk&back=%2Fconsultations%3Ftopic%3Dland")
        rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")
        if len(rows) != 1:
            fail("the topic filter shows %d rows, not 1" % len(rows))

        # The hall's grid: totals as the counts are typed.
        driver.get(base + "/attendance")
        Select(driver.find_element(By.ID, "category")).select_by_value("older")
        driver.find_element(By.NAME, "n_7_0").send_keys("12")
        driver.find_element(By.NAME, "n_7_1").send_keys("7")
        driver.find_element(By.NAME, "n_6_0").send_keys("3")
        if driver.find_element(By.CSS_SELECTOR, "[data-grand-total]").text != "22":
            fail("the grid's running total is not 22")
        shot(driver, args.out, "kk-attendance")
        driver.find_element(By.CSS_SELECTOR, "form[data-grid] button").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[data-saved=attendance]"))

        # A record's page with its history, then the other screens, for the eye (ru).
        driver.get(base + "/consultations")
        driver.find_element(By.CSS_SELECTOR, "table.list tbody tr a").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.history"))
        shot(driver, args.out, "kk-record")
        driver.get(base + "/lang?to=ru&back=%2Fsync")
        if "не подключён к серверу" not in driver.page_source:
            fail("the sync page does not say the laptop is not connected yet")
        shot(driver, args.out, "ru-sync")
        for page in ["exports", "photos", "conflicts"]:
            driver.get(base + "/" + page)
            shot(driver, args.out, "ru-" + page)
        driver.get(base + "/lang?to=kk&back=%2F")

        # At 200 % zoom on the same laptop (683 x 384 CSS pixels) the form is one column and
        # every control is still reachable.
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride",
                               {"width": 683, "height": 384, "deviceScaleFactor": 2,
                                "mobile": False})
        driver.get(base + "/consult/new")
        width = driver.execute_script("return document.documentElement.scrollWidth")
        if width > 683:
            fail("at 200 %% zoom the form is %d px wide: it scrolls sideways" % width)
        shot(driver, args.out, "kk-consultation-200pct")
        driver.get(base + "/")
        shot(driver, args.out, "kk-today-200pct")
        driver.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    finally:
        driver.quit()
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            fail("caravan ui did not stop on SIGTERM")

    # The CLI reads exactly what was typed, field by field.
    listed = subprocess.run([args.caravan, "--db", db, "--json", "consult", "list"],
                            capture_output=True, text=True, timeout=60)
    if listed.returncode != 0:
        fail("caravan consult list failed: " + listed.stderr)
    saved = json.loads(listed.stdout)
    if len(saved) != len(CONSULTATIONS):
        fail("the CLI lists %d consultations, not %d" % (len(saved), len(CONSULTATIONS)))
    by_question = {s["question"]: s for s in saved}
    for c in CONSULTATIONS:
        s = by_question.get(c["question"])
        if s is None:
            fail("a consultation typed in the app is missing from the CLI")
        person = s.get("person", s)
        checks = [("gender", person.get("gender"), c["gender"]),
                  ("age", person.get("age"), c["age"]),
                  ("category", person.get("category"), c["category"]),
                  ("vulnerable", bool(person.get("vulnerable")), bool(c.get("vulnerable"))),
                  ("topics", sorted(s.get("topics") or []), sorted(c["topics"])),
                  ("outcome", s.get("outcome"), c["outcome"]),
                  ("follow_up", bool(s.get("follow_up")), bool(c.get("follow_up"))),
                  ("lang", s.get("lang"), c["lang"]),
                  ("advice", s.get("advice"), c["advice"]),
                  ("village", s.get("village"), "Қордай"),
                  ("lawyer", s.get("lawyer"), "Айгүл Сейітова")]
        for name, got, want in checks:
            if got != want:
                fail("field %s of a consultation: the CLI reads %r, the app was given %r"
                     % (name, got, want))
    print("ui field day: 5 consultations typed in the browser, confirmed by the CLI; "
          "screenshots in " + args.out, flush=True)


if __name__ == "__main__":
    main()
