#!/usr/bin/python3
"""A lawyer's field day through the app alone, in a real headless Chromium (WebDriver): first run,
enrollment with a code from a real `caravan-server`, a village and a visit, five consultations in
kk and ru, the hall's attendance grid, a survey, photos, an edit, a delete and an undelete, and a
sync from the sync page. Then the CLI and the server each confirm every record field by field.
Saves screenshots of the main screens in kk, ru and en.

  field_day.py --caravan BUILD/cli/caravan --server BUILD/cli/caravan-server
               --make-jpeg BUILD/tests/make_jpeg --out DIR

Run by CTest ("ui browser: ..."). Exits non-zero on the first thing that is not as a lawyer
would expect; every wait is bounded.
"""
import argparse
import base64
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


def start_server(server, data):
    """`caravan-server serve` on 127.0.0.1, a free port; returns (process, base URL)."""
    out = open(data + ".out", "w+")
    proc = subprocess.Popen([server, "serve", "--data", data, "--listen", "127.0.0.1:0",
                             "--threads", "4"], stdout=out, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 20
    while time.time() < deadline:
        out.seek(0)
        m = re.search(r"listening on (127\.0\.0\.1:\d+)\n", out.read())
        if m:
            return proc, "http://" + m.group(1)
        if proc.poll() is not None:
            break
        time.sleep(0.05)
    proc.kill()
    fail("caravan-server did not start within 20 s")


def run(argv, what):
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        fail("%s failed (%d): %s" % (what, done.returncode, done.stderr))
    return done.stdout


def stop(proc, what):
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        fail(what + " did not stop on SIGTERM")


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
    if "vulnerable" in c:  # left out: the form's default, not recorded
        Select(driver.find_element(By.ID, "vulnerable")).select_by_value(
            "yes" if c["vulnerable"] else "no")
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
    dict(gender="male", age="59+", category="older", vulnerable=False, topics=["benefits"],
         outcome="advice", lang="ru", question="Пенсия пересчёт", advice="Обратиться в ЦОН"),
    dict(gender="female", age="23-27", category="youth", topics=["family"], outcome="document",
         lang="kk", question="Алимент", advice="Сотқа арыз дайындалды"),
    dict(gender="male", age="46-58", category="business", topics=["tax", "credit"],
         outcome="referred", lang="ru", question="Налоговая проверка", advice="Направлен в ДГД"),
    dict(gender="unrecorded", age="unrecorded", category="unrecorded", topics=["other"],
         outcome="advice", lang="kk", question="Жалпы сұрақ", advice="Түсіндірілді"),
]


LAWYER = "Айгүл Сейітова"
REGION = "Жамбыл обл."
VILLAGE = "Қордай"
EDITED = "Пенсия пересчёт"       # its outcome is changed from "advice" to "document"
DELETED = "Налоговая проверка"   # deleted, then restored


def wait_for_job(driver, base, wait):
    """Reloads /sync until the background job (enrollment or sync) has finished."""
    deadline = time.time() + 60
    while time.time() < deadline:
        driver.get(base + "/sync")
        if not driver.find_elements(By.CSS_SELECTOR, "[data-job-running]"):
            return
        time.sleep(0.3)
    fail("the job on the sync page did not finish within 60 s")


def open_record(driver, base, wait, question):
    driver.get(base + "/consultations?q=" + question)
    rows = driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr a")
    if len(rows) != 1:
        fail("searching the list for one question found %d rows" % len(rows))
    rows[0].click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "table.history"))


def field_day(args, driver, wait, base, url, server_url, code, make_photos):
    driver.get(url)
    if "?k=" in driver.current_url:
        fail("the launch secret stayed in the address bar")
    # First run, in Kazakh (the --lang the app was started with).
    shot(driver, args.out, "kk-setup")
    driver.find_element(By.ID, "lawyer").send_keys(LAWYER)
    driver.find_element(By.ID, "region").send_keys(REGION + Keys.ENTER)
    wait.until(lambda d: d.find_elements(By.ID, "new_village"))

    # Enrollment with the code the coordinator gave (a real server on loopback, plain HTTP).
    driver.get(base + "/sync")
    driver.find_element(By.ID, "server").clear()
    driver.find_element(By.ID, "server").send_keys(server_url)
    driver.find_element(By.ID, "code").send_keys(code)
    driver.find_element(By.ID, "insecure_http").click()
    shot(driver, args.out, "kk-enroll")
    driver.find_element(By.CSS_SELECTOR, "form[action='/enroll'] button").click()
    wait_for_job(driver, base, wait)
    if not driver.find_elements(By.CSS_SELECTOR, "form[action='/sync'] button"):
        fail("after enrolling, the sync page offers no sync button: " +
             driver.find_element(By.TAG_NAME, "main").text)

    driver.get(base + "/")
    driver.find_element(By.ID, "new_village").send_keys(VILLAGE)
    driver.find_element(By.CSS_SELECTOR, "form[action='/visit/start'] button").click()
    wait.until(lambda d: VILLAGE in d.find_element(By.ID, "visit-line").text)
    shot(driver, args.out, "kk-today")

    # Five consultations, each ready for the next person after saving; the Russian-speaking
    # clients' in the Russian interface.
    for i, c in enumerate(CONSULTATIONS):
        lang = "ru" if c["lang"] == "ru" else "kk"
        driver.get(base + "/lang?to=%s&back=%%2Fconsult%%2Fnew" % lang)
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
    Select(driver.find_element(By.ID, "gender")).select_by_value("male")
    driver.find_element(By.ID, "question").send_keys("Без возраста")
    driver.find_element(By.CSS_SELECTOR, "form.consult button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "[aria-invalid=true]"))
    if driver.find_element(By.ID, "question").get_attribute("value") != "Без возраста":
        fail("a refused form lost what was typed")
    shot(driver, args.out, "ru-consultation-error")
    # The draft of the refused form is not wanted: clear it so the list stays at five.
    driver.execute_script("window.localStorage.clear()")

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
    Select(driver.find_element(By.ID, "fvillage")).select_by_index(1)
    driver.find_element(By.CSS_SELECTOR, "form.filters button").click()
    wait.until(lambda d: "village=" in d.current_url)
    if len(driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) != 1:
        fail("the village and topic filters together do not show the one consultation")

    # The hall's grid: totals as the counts are typed; then the survey.
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
    driver.find_element(By.ID, "respondents").send_keys("20")
    driver.find_element(By.ID, "satisfied").send_keys("18")
    driver.find_element(By.CSS_SELECTOR, "form[action='/survey'] button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "p.notice"))

    # Photos: three files chosen at once, the third the same bytes as the first.
    driver.get(base + "/photos")
    photos = make_photos(driver)
    driver.find_element(By.ID, "files").send_keys("\n".join(photos))
    driver.find_element(By.ID, "caption").send_keys("Зал")
    driver.find_element(By.ID, "consent").click()
    driver.find_element(By.CSS_SELECTOR, "form[action='/photos'] button").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "ul.photos li")) == 3)
    if len(driver.find_elements(By.CSS_SELECTOR, "ul.photos .flag")) != 1:
        fail("the same photo chosen twice was not flagged once as a duplicate")
    try:
        wait.until(lambda d: d.execute_script(
            "return [...document.querySelectorAll('ul.photos img')]"
            ".every(i => i.complete && i.naturalWidth > 0)"))
    except Exception:
        fail("a photo's thumbnail did not load")
    shot(driver, args.out, "kk-photos")

    # An edit: the outcome of one consultation changes; the history shows both.
    open_record(driver, base, wait, EDITED)
    Select(driver.find_element(By.ID, "outcome")).select_by_value("document")
    driver.find_element(By.CSS_SELECTOR, "form[action='/consultation/edit'] button").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "table.history tbody tr")) == 2)
    if not driver.find_elements(By.CSS_SELECTOR, "table.history tbody tr ul li"):
        fail("the history does not list the fields each change wrote")
    shot(driver, args.out, "kk-record")

    # A delete and an undelete.
    open_record(driver, base, wait, DELETED)
    driver.find_element(By.CSS_SELECTOR, "details.danger summary").click()
    driver.find_element(By.CSS_SELECTOR, "form[action='/consultation/delete'] button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/consultation/undelete']"))
    driver.get(base + "/consultations")
    if len(driver.find_elements(By.CSS_SELECTOR, "table.list tbody tr")) != 4:
        fail("a deleted consultation is still listed")
    driver.back()
    driver.find_element(By.CSS_SELECTOR, "form[action='/consultation/undelete'] button").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "form[action='/consultation/edit']"))

    # Sync from the sync page, in Russian; then the other screens, for the eye.
    driver.get(base + "/lang?to=ru&back=%2Fsync")
    driver.find_element(By.CSS_SELECTOR, "form[action='/sync'] button").click()
    wait_for_job(driver, base, wait)
    if "успешно" not in driver.find_element(By.TAG_NAME, "main").text:
        fail("the sync page does not say the sync completed: " +
             driver.find_element(By.TAG_NAME, "main").text)
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


def expected(c):
    """What a consultation should hold after the day's edits."""
    want = dict(c)
    if c["question"] == EDITED:
        want["outcome"] = "document"
    return want


def confirm(rows, where):
    """Every consultation typed in the app, field by field, in `rows` (CLI list or journal)."""
    if len(rows) != len(CONSULTATIONS):
        fail("%s holds %d consultations, not %d" % (where, len(rows), len(CONSULTATIONS)))
    by_question = {r["question"]: r for r in rows}
    for c in map(expected, CONSULTATIONS):
        r = by_question.get(c["question"])
        if r is None:
            fail("a consultation typed in the app is missing from " + where)
        person = r.get("person", r)
        checks = [("gender", person.get("gender"), c["gender"]),
                  ("age", person.get("age"), c["age"]),
                  ("category", person.get("category"), c["category"]),
                  ("vulnerable", person.get("vulnerable"), c.get("vulnerable")),
                  ("topics", sorted(r.get("topics") or []), sorted(c["topics"])),
                  ("outcome", r.get("outcome"), c["outcome"]),
                  ("follow_up", bool(r.get("follow_up")), bool(c.get("follow_up"))),
                  ("lang", r.get("lang"), c["lang"]),
                  ("advice", r.get("advice"), c["advice"]),
                  ("village", r.get("village"), VILLAGE),
                  ("lawyer", r.get("lawyer"), LAWYER)]
        for name, got, want in checks:
            if got != want:
                fail("field %s of a consultation: %s reads %r, the app was given %r"
                     % (name, where, got, want))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--caravan", required=True)
    ap.add_argument("--server", required=True)
    ap.add_argument("--make-jpeg", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="caravan-ui-")
    db = os.path.join(work, "caravan.db")
    data = os.path.join(work, "server")

    def make_photos(driver):
        """Two pictures drawn by the browser's canvas, with a camera's EXIF, and a copy of the
        first under another name (the same bytes: a duplicate)."""
        photos = []
        for i, (colour, taken) in enumerate([("#2a6f97", "2024:05:14 10:31:02"),
                                             ("#8a5a44", "2024:05:14 11:02:40")]):
            data = driver.execute_script(
                "const c = document.createElement('canvas'); c.width = 320; c.height = 240;"
                "const g = c.getContext('2d'); g.fillStyle = arguments[0];"
                "g.fillRect(0, 0, 320, 240); g.fillStyle = '#fff'; g.font = '64px sans-serif';"
                "g.fillText(arguments[1], 130, 145); return c.toDataURL('image/jpeg', 0.8);",
                colour, str(i + 1))
            pixels = os.path.join(work, "canvas%d.jpg" % i)
            with open(pixels, "wb") as f:
                f.write(base64.b64decode(data.split(",", 1)[1]))
            photos.append(os.path.join(work, "IMG_000%d.jpg" % (i + 1)))
            run([args.make_jpeg, photos[-1], taken, pixels], "make_jpeg")
        photos.append(os.path.join(work, "IMG_0001 copy.jpg"))
        with open(photos[0], "rb") as a, open(photos[2], "wb") as b:
            b.write(a.read())
        return photos

    server, server_url = start_server(args.server, data)
    try:
        code = run([args.server, "enroll-code", "--data", data, "--lawyer", LAWYER,
                    "--region", REGION], "caravan-server enroll-code").strip().splitlines()[-1]
        proc, url = start_app(args.caravan, db)
        driver = browser()
        # A page being replaced by the next one leaves stale elements behind: waits retry
        # past them.
        wait = WebDriverWait(driver, 15, ignored_exceptions=(StaleElementReferenceException,
                                                             NoSuchElementException))
        try:
            field_day(args, driver, wait, url.split("/?")[0], url, server_url, code,
                      make_photos)
        except Exception:
            # What the page said when the day went wrong (no personal data: test records).
            shot(driver, args.out, "failure")
            print("FAILED at " + driver.current_url + ":\n" +
                  driver.find_element(By.TAG_NAME, "body").text, flush=True)
            raise
        finally:
            driver.quit()
            stop(proc, "caravan ui")
    finally:
        stop(server, "caravan-server")

    # The CLI reads exactly what was typed, field by field, and nothing is left to sync.
    confirm(json.loads(run([args.caravan, "--db", db, "--json", "consult", "list"],
                           "caravan consult list")), "the CLI")
    status = json.loads(run([args.caravan, "--db", db, "--json", "status"], "caravan status"))
    print("device status: " + json.dumps({k: v for k, v in status.items()
                                          if not isinstance(v, dict)}), flush=True)
    for key, want in [("consultations", 5), ("attendance_entries", 3), ("participants", 22),
                      ("surveys", 1), ("photos", 2), ("unsynced", 0), ("conflicts", 0)]:
        if status.get(key) != want:
            fail("caravan status: %s is %r, not %r (a photo chosen twice counts once; "
                 "everything was synced)" % (key, status.get(key), want))

    # The server holds the same: the journal field by field, the breakdown equal to the
    # device's (attendance and consultations alike).
    journal = json.loads(run([args.server, "export", "journal", "--data", data, "--all",
                              "--format", "json"], "caravan-server export journal"))
    confirm(journal["rows"], "the server's journal")
    on_server = json.loads(run([args.server, "report", "breakdown", "--data", data,
                                "--format", "json"], "caravan-server report breakdown"))
    on_device = json.loads(run([args.caravan, "--db", db, "report", "breakdown",
                                "--format", "json"], "caravan report breakdown"))
    if on_server["participants"] != on_device["participants"]:
        fail("participants: the server counts %s, the device %s"
             % (on_server["participants"], on_device["participants"]))
    if on_server["tables"] != on_device["tables"]:
        fail("the server's breakdown differs from the device's")
    # The grid was saved with its vulnerable choice left at "not recorded".
    vulnerable = {r["code"]: r["participants"] for t in on_device["tables"]
                  if t["code"] == "vulnerable" for r in t["rows"]}
    if vulnerable != {"yes": 0, "no": 0, "unrecorded": 22}:
        fail("the vulnerable breakdown is %r, not 22 not recorded" % vulnerable)
    print("ui field day: 5 consultations, attendance, a survey, 3 photos, an edit, a delete and "
          "undelete typed in the browser, synced, confirmed by the CLI and the server; "
          "screenshots in " + args.out, flush=True)


if __name__ == "__main__":
    main()
