#!/usr/bin/python3
"""A coordinator's morning on the dashboard, in a real headless Chromium (WebDriver), against a
real `caravan-server serve` on 127.0.0.1 with four lawyers' devices: a wrong password, login,
the devices page (a device that never synced highlighted, one revoked), an enrollment code, a
revocation confirmed, the language switched, the indicators against a plan with their chart, the
journals page, the breakdowns with their charts, the activity over time, the record browser
and a record's history, a conflict two laptops made resolved in the page (with --caravan: the
laptops sync and show the chosen value, no conflict left), logout. The server's database
confirms the audit log. Saves screenshots (1366x768) in en, ru and kk.

  coordinator_morning.py --server BUILD/cli/caravan-server --plan PLAN.json --out DIR

Run by CTest ("dashboard browser: ..."). Exits non-zero on the first thing that is not as a
coordinator would expect; every wait is bounded.
"""
import argparse
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

PASSWORD = "a long coordinator phrase"
LAWYERS = [
    ("Айгүл Сейтова", "Жамбыл обл.", 0, "caravan-0.9.1"),
    ("Ерлан Жақсыбеков", "Жамбыл обл.", 14, "caravan-0.9.1"),
    ("Марина Ким", "Ақтөбе обл.", 3, "caravan-0.9.0"),
    ("Данияр Оспанов", "Түркістан обл.", None, None),  # enrolled, never synced
]


# The report-shaped year of tests/programs/gen_year.cpp: the regions each of its devices records in.
YEAR_REGIONS = [["Ақтөбе обл."], ["Абай обл."], ["Жамбыл обл."], ["Ақмола обл."],
                ["Абай обл.", "Ақмола обл.", "Астана қ."]]


def fail(message):
    print("FAILED: " + message, flush=True)
    sys.exit(1)


def run(args, stdin=None):
    done = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=60)
    if done.returncode != 0:
        fail("%s: %s" % (" ".join(args[:3]), done.stderr.strip()))
    return done.stdout


def api(port, method, path, body=None, token=None, headers=None):
    request = urllib.request.Request("http://127.0.0.1:%d%s" % (port, path), method=method,
                                     data=json.dumps(body).encode() if body is not None else None)
    request.add_header("X-Caravan-Protocol", "1")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", "Bearer " + token)
    for k, v in (headers or {}).items():
        request.add_header(k, v)
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read().decode())


def start_server(server, data):
    proc = subprocess.Popen([server, "serve", "--data", data, "--listen", "127.0.0.1:0",
                             "--threads", "4"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    deadline = time.time() + 30
    while time.time() < deadline:
        line = proc.stdout.readline()
        m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
        if m:
            return proc, int(m.group(1))
    proc.kill()
    fail("caravan-server printed no address within 30 s")


def browser(lang):
    options = Options()
    for arg in ["--headless=new", "--no-sandbox", "--window-size=1366,768", "--disable-gpu",
                "--disable-dev-shm-usage", "--lang=" + lang]:
        options.add_argument(arg)
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)


def shot(driver, out, name):
    driver.save_screenshot(os.path.join(out, "dashboard-" + name + ".png"))


def wait_for(driver, what, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        found = driver.find_elements(By.CSS_SELECTOR, what)
        if found:
            return found[0]
        time.sleep(0.1)
    fail("no %s on %s within %d s: %s" % (what, driver.current_url, seconds, driver.page_source[:600]))


def make_conflict(caravan, server, data, base, work):
    """Two real laptops of Жамбыл обл. set one consultation's outcome offline, then sync: a
    conflict. Returns the laptops' databases, the consultation's id and the conflict as the
    first laptop lists it."""
    region = "Жамбыл обл."
    laptops = []
    for name in ("Гүлнар Әбенова", "Тимур Омаров"):
        db = os.path.join(work, "conflict-%d.db" % len(laptops))
        code = run([server, "enroll-code", "--data", data, "--lawyer", name, "--region",
                    region]).strip()
        run([caravan, "--db", db, "init", "--lawyer", name, "--region", region])
        run([caravan, "--db", db, "enroll", "--server", base, "--code", code])
        laptops.append(db)
    a, b = laptops
    run([caravan, "--db", a, "village", "add", "Қызылжар", "--region", region])
    run([caravan, "--db", a, "visit", "start", "--village", "Қызылжар", "--date", "2024-05-14"])
    added = json.loads(run([caravan, "--db", a, "consult", "add", "--gender", "female", "--age",
                            "33-45", "--category", "unemployed", "--topic", "land", "--outcome",
                            "advice", "--question", "жер дауы", "--lang", "kk", "--json"]))
    for db in (a, b):
        sync(caravan, db)
    run([caravan, "--db", a, "consult", "edit", added["id"], "--outcome", "document"])
    run([caravan, "--db", b, "consult", "edit", added["id"], "--outcome", "referred"])
    for db in (a, b, a):
        sync(caravan, db)
    conflicts = [c for c in json.loads(run([caravan, "--db", a, "conflicts", "--json"]))
                 if c["entity_id"] == added["id"]]
    if len(conflicts) != 1:
        fail("two laptops' edits of one field made %d conflicts" % len(conflicts))
    return laptops, added["id"], conflicts[0]


def sync(caravan, db):
    run([caravan, "--db", db, "sync", "--retry-base-ms", "5", "--retry-cap-ms", "50"])


def switch_language(driver, code):
    driver.find_element(By.CSS_SELECTOR, "nav.langs a[lang=%s]" % code).click()
    wait_for(driver, "html[lang=%s]" % code)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--server", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--plan", required=True)
    parser.add_argument("--caravan", help="with --gen-year: the device CLI that syncs the year")
    parser.add_argument("--gen-year", help="tests/programs/gen_year: a year of records to sync")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    work = tempfile.mkdtemp(prefix="caravan-dashboard-")
    data = os.path.join(work, "data")

    codes = []
    for name, region, _, _ in LAWYERS:
        codes.append(run([args.server, "enroll-code", "--data", data, "--lawyer", name,
                          "--region", region]).strip())
    run([args.server, "user", "add", "aigerim", "--role", "coordinator", "--data", data],
        PASSWORD + "\n")
    proc, port = start_server(args.server, data)
    driver = None
    try:
        devices = []
        for (name, region, queue, version), code in zip(LAWYERS, codes):
            device_id = str(uuid.uuid4())
            enrolled = api(port, "POST", "/v1/enroll", {"code": code, "device_id": device_id})
            devices.append((device_id, enrolled["token"]))
            if queue is not None:
                report = {"X-Caravan-Queue-Depth": str(queue), "X-Caravan-App-Version": version}
                if queue:
                    report["X-Caravan-Oldest-Unsynced"] = "2024-05-13T08:00:00Z"
                api(port, "GET", "/v1/pull?after=0&limit=10", token=enrolled["token"],
                    headers=report)
        base = "http://127.0.0.1:%d" % port
        year_devices = 0
        if args.gen_year and args.caravan:
            year = os.path.join(work, "year")
            run([args.gen_year, "--out", year, "--seed", "2024"])
            for n, regions in enumerate(YEAR_REGIONS, start=1):
                code_args = [args.server, "enroll-code", "--data", data, "--lawyer",
                             "Lawyer %d" % n]
                for region in regions:
                    code_args += ["--region", region]
                code = run(code_args).strip()
                db = os.path.join(year, "device-%d.db" % n)
                run([args.caravan, "--db", db, "enroll", "--server", base, "--code", code])
                run([args.caravan, "--db", db, "sync", "--retry-base-ms", "5", "--retry-cap-ms",
                     "50"])
                year_devices += 1

        driver = browser("en")
        driver.get(base + "/lang?to=en&back=/")
        wait_for(driver, "#login")
        if "/login" not in driver.current_url:
            fail("without a session the dashboard did not ask to log in: " + driver.current_url)
        driver.find_element(By.ID, "name").send_keys("aigerim")
        driver.find_element(By.ID, "password").send_keys("not the password")
        driver.find_element(By.ID, "login").click()
        error = wait_for(driver, "#login-error")
        if "wrong" not in error.text:
            fail("a wrong password said: " + error.text)
        shot(driver, args.out, "login-en")
        driver.find_element(By.ID, "name").send_keys("aigerim")
        driver.find_element(By.ID, "password").send_keys(PASSWORD)
        driver.find_element(By.ID, "login").click()
        table = wait_for(driver, "#devices")
        rows = table.find_elements(By.CSS_SELECTOR, "tbody tr")
        if len(rows) != len(LAWYERS) + year_devices:
            fail("the devices page shows %d devices, not %d" % (len(rows),
                                                                len(LAWYERS) + year_devices))
        stale = [r.text for r in rows if "stale" in r.get_attribute("class")]
        if len(stale) != 1 or "Данияр" not in stale[0] or "never" not in stale[0]:
            fail("the device that never synced is not the one highlighted: %r" % stale)
        if "14 changes" not in table.text or "caravan-0.9.0" not in table.text:
            fail("the backlog and versions the devices reported are not shown: " + table.text)
        shot(driver, args.out, "devices-en")

        # An enrollment code for a new lawyer, shown large with its expiry.
        driver.find_element(By.ID, "lawyer").send_keys("Сәуле Нұрланова")
        driver.find_element(By.ID, "region").send_keys("Ақтөбе обл.")
        ttl = driver.find_element(By.ID, "ttl")
        ttl.clear()
        ttl.send_keys("24")
        driver.find_element(By.ID, "issue-code").click()
        code = wait_for(driver, "#enrollment-code").text
        if not re.fullmatch(r"[A-Z0-9-]{8,}", code):
            fail("the enrollment code shown is not a code: %r" % code)
        driver.execute_script("window.scrollTo(0, 0)")
        shot(driver, args.out, "code-en")

        # Revoke Марина's device, after confirming.
        marina = [r for r in driver.find_elements(By.CSS_SELECTOR, "#devices tbody tr")
                  if "Марина" in r.text][0]
        marina.find_element(By.CSS_SELECTOR, "a[href^='/devices/revoke']").click()
        wait_for(driver, "#revoke-confirm").click()
        notice = wait_for(driver, "p.notice")
        if "revoked" not in notice.text:
            fail("revoking said: " + notice.text)
        try:
            api(port, "GET", "/v1/status", token=devices[2][1])
            fail("the revoked device can still sync")
        except urllib.error.HTTPError as e:
            if e.code not in (401, 403):
                fail("the revoked device got HTTP %d" % e.code)

        for lang in ("ru", "kk"):
            switch_language(driver, lang)
            wait_for(driver, "#devices")
            shot(driver, args.out, "devices-" + lang)

        # Indicators against the plan of the report, with the chart (in kk, then en).
        driver.find_element(By.CSS_SELECTOR, "a[href='/indicators']").click()
        wait_for(driver, "#plan").send_keys(args.plan)
        driver.find_element(By.ID, "compare").click()
        wait_for(driver, "#chart")
        bars = driver.find_elements(By.CSS_SELECTOR, "#chart g.bar")
        rows = driver.find_elements(By.CSS_SELECTOR, "#indicators tbody tr")
        if len(bars) < 5 or len(rows) < len(bars):
            fail("the indicators page shows %d rows and %d bars" % (len(rows), len(bars)))
        shot(driver, args.out, "indicators-kk")
        switch_language(driver, "en")
        driver.find_element(By.CSS_SELECTOR, "a[href='/indicators']").click()
        wait_for(driver, "#plan").send_keys(args.plan)
        driver.find_element(By.ID, "compare").click()
        wait_for(driver, "#chart")
        shot(driver, args.out, "indicators-en")
        driver.find_element(By.CSS_SELECTOR, "a[href='/journals']").click()
        wait_for(driver, "#journal-form")
        shot(driver, args.out, "journals-en")
        driver.find_element(By.CSS_SELECTOR, "a[href='/breakdowns']").click()
        summary = wait_for(driver, "#summary")
        # Every date: the plan period's 1,360 participants and September's visit besides.
        counted = re.match(r"(\d+) participants in (\d+) visits", summary.text)
        if not counted or (year_devices and (int(counted.group(1)) < 1360
                                             or int(counted.group(2)) != 73)):
            fail("the breakdowns do not count the synced year: " + summary.text)
        if not driver.find_elements(By.CSS_SELECTOR, "#chart-gender g.bar"):
            fail("the breakdowns page has no gender chart")
        shot(driver, args.out, "breakdowns-en")
        # Activity over time: the weeks' columns, regions, lawyers, villages (en, ru, kk).
        driver.find_element(By.CSS_SELECTOR, "a[href='/activity']").click()
        summary = wait_for(driver, "#summary")
        counted = re.match(r"Visits: (\d+), consultations: (\d+), participants: (\d+)",
                           summary.text)
        if not counted or (year_devices and (int(counted.group(1)) != 73
                                             or int(counted.group(3)) < 1360)):
            fail("the activity page does not count the synced year: " + summary.text)
        for chart in ("#chart-weeks-consultations", "#chart-regions-participants",
                      "#chart-lawyers-consultations", "#chart-villages"):
            if not driver.find_elements(By.CSS_SELECTOR, chart + " g.bar"):
                fail("the activity page has no chart " + chart)
        shot(driver, args.out, "activity-en")
        driver.execute_script("document.getElementById('regions').scrollIntoView()")
        shot(driver, args.out, "activity-regions-en")
        for lang in ("ru", "kk"):
            switch_language(driver, lang)
            wait_for(driver, "#chart-weeks-consultations")
            shot(driver, args.out, "activity-" + lang)
        # The record browser (kk): the newest consultations, 50 a page, then a search (en) and
        # a record with its history (en, ru).
        driver.find_element(By.CSS_SELECTOR, "a[href='/records']").click()
        wait_for(driver, "#records-form")  # the activity page before it has a #summary too
        rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr")
        if year_devices and (len(rows) != 50 or not driver.find_elements(By.ID, "next-page")):
            fail("the record browser shows %d rows (a next page: %s)" %
                 (len(rows), bool(driver.find_elements(By.ID, "next-page"))))
        shot(driver, args.out, "records-kk")
        switch_language(driver, "en")
        Select(driver.find_element(By.ID, "topic")).select_by_value("land")
        driver.find_element(By.ID, "search").click()
        wait_for(driver, "html[lang=en]")
        deadline = time.time() + 20
        while "topic=land" not in driver.current_url and time.time() < deadline:
            time.sleep(0.1)  # the search's page, not the one it was sent from
        wait_for(driver, "#summary")
        rows = driver.find_elements(By.CSS_SELECTOR, "#records tbody tr")
        if year_devices and (not rows or any("land" not in r.text for r in rows)):
            fail("a search by topic shows other topics: %r" % [r.text for r in rows[:3]])
        shot(driver, args.out, "records-en")
        if rows:
            rows[0].find_element(By.CSS_SELECTOR, "a[href^='/record?id=']").click()
            history = wait_for(driver, "#history")
            if "recorded" not in history.text or "lawyer unknown" in history.text:
                fail("the record's history names no lawyer or creation: " + history.text)
            shot(driver, args.out, "record-en")
            switch_language(driver, "ru")
            wait_for(driver, "#history")
            driver.execute_script("document.getElementById('history').scrollIntoView()")
            shot(driver, args.out, "record-history-ru")
        # Conflicts, readable (ru, kk, en): both values, who and when, a button under each.
        # Made now, after the pages that count the year's visits.
        conflict = make_conflict(args.caravan, args.server, data, base, work) \
            if args.caravan else None
        driver.find_element(By.CSS_SELECTOR, "a[href='/conflicts']").click()
        wait_for(driver, "#conflicts, #none")
        if not conflict:
            shot(driver, args.out, "conflicts-ru")
        else:
            laptops, record, listed = conflict
            chosen_row = "#conflicts tr[data-id='%s'][data-field='outcome']" % record
            for lang in ("ru", "kk", "en"):
                if lang != "ru":
                    switch_language(driver, lang)
                # The consultation's row (after the year's villages) in the middle of the screen.
                driver.execute_script("arguments[0].scrollIntoView({block: 'center'})",
                                      wait_for(driver, chosen_row))
                shot(driver, args.out, "conflicts-" + lang)
            row = wait_for(driver, chosen_row)
            if "referred" not in row.text and "document" not in row.text:
                fail("the conflict's row does not show its values: " + row.text)
            # The coordinator keeps the value last-writer-wins overwrote.
            row.find_element(By.CSS_SELECTOR, "button.keep-overwritten").click()
            notice = wait_for(driver, "#resolved")
            if "next sync" not in notice.text:
                fail("keeping a value said: " + notice.text)
            shot(driver, args.out, "conflicts-resolved-en")
            for db in laptops:
                sync(args.caravan, db)
            chosen = listed["lost"]["value"]
            for db in laptops:
                shown = json.loads(run([args.caravan, "--db", db, "consult", "show", record,
                                        "--json"]))
                if shown["outcome"] != chosen:
                    fail("after the sync a laptop shows %r, not the chosen %r" %
                         (shown["outcome"], chosen))
                left = [c for c in json.loads(run([args.caravan, "--db", db, "conflicts",
                                                   "--json"])) if c["entity_id"] == record]
                if left:
                    fail("after the sync a laptop still lists the conflict it chose")
        switch_language(driver, "kk")
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, "#login")
        shot(driver, args.out, "logout-kk")
        driver.get(base + "/devices")
        wait_for(driver, "#login")

        db = sqlite3.connect(os.path.join(data, "server.db"))
        actions = [a for (a,) in db.execute("SELECT action FROM audit_log ORDER BY id")]
        db.close()
        expected_actions = ["login_failed", "login", "code_issued", "device_revoked",
                            "indicators_viewed", "breakdowns_viewed", "activity_viewed",
                            "record_viewed", "logout"]
        if args.caravan:
            expected_actions.append("conflict_resolved")
        for expected in expected_actions:
            if expected not in actions:
                fail("the audit log has no %s: %r" % (expected, actions))
        print("dashboard morning: %d devices, 1 code issued, 1 device revoked, %d audit entries; "
              "screenshots in %s" % (len(LAWYERS) + year_devices, len(actions), args.out),
              flush=True)
    finally:
        if driver:
            driver.quit()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


if __name__ == "__main__":
    main()
