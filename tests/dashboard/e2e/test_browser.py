"""vmmon-dashboard in Horizon, in a real browser, against real services:
the bed's Keystone and Nova (a server on its libvirt compute host), and a
vmmon of this run's own. Screenshots of every page go to SHOTS."""

from __future__ import annotations

import time

import pytest
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

from conftest import SHOTS
from testbed import until

from vmmonclient import exceptions

PANEL = "/project/vmmon_monitoring/"
ADMIN_PANEL = "/admin/vmmon_overview/"
PASSWORDS = {"admin": "VMMON_KEYSTONE_ADMIN_PASSWORD"}


def wait(drv, what, secs, fn, interval=0.5):
    deadline = time.monotonic() + secs
    last = None
    while time.monotonic() < deadline:
        try:
            got = fn()
            if got:
                return got
        except WebDriverException as e:
            last = e
        time.sleep(interval)
    pytest.fail("%s: not within %gs (last: %r) at %s" % (
        what, secs, last, drv.current_url), pytrace=False)


def login(drv, horizon, bed, user):
    drv.get(horizon["base"] + "/auth/logout/")
    drv.delete_all_cookies()
    drv.get(horizon["base"] + "/auth/login/")
    wait(drv, "the login form", 30,
         lambda: drv.find_elements(By.ID, "id_username") or
         (drv.save_screenshot(str(SHOTS / ("login-" + user + ".png")))
          and False))
    drv.find_element(By.ID, "id_username").send_keys(user)
    drv.find_element(By.ID, "id_password").send_keys(
        bed[PASSWORDS.get(user, "VMMON_TEST_PASSWORD")])
    drv.find_element(By.ID, "loginBtn").click()
    wait(drv, "logged in as " + user, 30,
         lambda: "/auth/login" not in drv.current_url and
         drv.find_elements(By.CSS_SELECTOR, ".user-name"))


def shot(drv, shots, name):
    drv.save_screenshot(str(shots / (name + ".png")))


def table_ids(drv):
    return {r.get_attribute("data-object-id") for r in drv.find_elements(
        By.CSS_SELECTOR, "#instances tbody tr[data-object-id]")}


def api_ids(client):
    return {i["id"] for i in client.instances.list()}


@pytest.fixture(scope="module")
def known(clients, stack, server):
    """The bed's guest and the server as vmmon knows them, with raw
    cpu_util points; returns (guest, server)."""
    c = clients["demo-member"]

    def ready(iid):
        def fn():
            c.instances.get(iid)
            m = c.measures.get(iid, "cpu_util", granularity="raw")
            return any(s.get("points") for s in m.get("series") or [])
        return fn
    until("the bed's guest with points in vmmon", 90, ready(stack["guest"]),
          1)
    until("the server with points in vmmon", 120, ready(server), 1)
    return stack["guest"], server


def test_member_sees_the_projects_instances(browser, horizon, bed, clients,
                                            known, shots):
    guest, server = known
    login(browser, horizon, bed, "demo-member")
    browser.get(horizon["base"] + PANEL)
    wait(browser, "the instance table", 30, lambda: table_ids(browser))
    ids = table_ids(browser)
    assert {guest, server} <= ids
    # Only the project's, exactly as vmmon lists them for the member.
    assert ids == api_ids(clients["demo-member"])
    html = browser.page_source
    assert "Traceback" not in html
    assert browser.find_elements(By.CSS_SELECTOR, "a.vmmon-sort")
    shot(browser, shots, "01-project-monitoring")
    # The latest values refresh in place.
    wait(browser, "the table's values refreshed", 30,
         lambda: browser.find_element(By.ID, "vmmon-instances")
         .get_attribute("data-refreshed"))
    # Sorted by vmmon: cpu_util, highest first, through the header link.
    browser.get(horizon["base"] + PANEL + "?sort=cpu_util:desc")
    wait(browser, "the sorted table", 30, lambda: table_ids(browser))
    rows = [r.get_attribute("data-object-id") for r in browser.find_elements(
        By.CSS_SELECTOR, "#instances tbody tr[data-object-id]")]
    want = [i["id"] for i in clients["demo-member"].http.get_json(
        "/v1/instances", params={"sort": "cpu_util:desc"})["instances"]]
    assert rows == want[:len(rows)]
    # Paged by vmmon: a page of one (the user's "Items Per Page"), then the
    # next page through the marker, until none is left.
    browser.add_cookie({"name": "API_RESULT_PAGE_SIZE", "value": "1"})
    browser.get(horizon["base"] + PANEL + "?sort=name:asc")
    seen = []
    for _page in range(20):
        wait(browser, "a page", 30, lambda: table_ids(browser))
        page = table_ids(browser)
        assert len(page) == 1, page
        seen += list(page)
        nxt = browser.find_elements(By.CSS_SELECTOR,
                                    "#instances tfoot a[href*='marker=']")
        if not nxt:
            break
        assert "sort=name%3Aasc" in nxt[0].get_attribute("href")
        nxt[0].click()
        wait(browser, "the next page", 30,
             lambda: table_ids(browser) and table_ids(browser) != page)
    want = [i["id"] for i in clients["demo-member"].http.get_json(
        "/v1/instances", params={"sort": "name:asc"})["instances"]]
    assert seen == want
    browser.delete_cookie("API_RESULT_PAGE_SIZE")
    # Searched by vmmon.
    browser.get(horizon["base"] + PANEL)
    box = browser.find_element(By.NAME, "instances__filter__q")
    box.send_keys("dashboard-e2e")
    browser.find_element(By.ID, "instances__action_filter").click()
    wait(browser, "the filtered table", 30,
         lambda: table_ids(browser) == {server})
    shot(browser, shots, "02-project-monitoring-search")
    box = browser.find_element(By.NAME, "instances__filter__q")
    box.clear()
    browser.find_element(By.ID, "instances__action_filter").click()
    wait(browser, "the table unfiltered", 30,
         lambda: len(table_ids(browser)) > 1)


def chart_points(drv, metric):
    return drv.execute_script("""
        var el = document.querySelector(
            '.vmmon-chart[data-metric="' + arguments[0] + '"]');
        if (!el) { return null; }
        var n = 0;
        el.querySelectorAll('path.vmmon-line').forEach(function (p) {
          var d = p.getAttribute('d') || '';
          n += (d.match(/[ML]/g) || []).length;
        });
        return n;
    """, metric)


def test_instance_charts_and_live_values(browser, horizon, bed, known,
                                         shots):
    guest, server = known
    browser.get(horizon["base"] + PANEL + server + "/")
    wait(browser, "the charts loaded", 60, lambda: browser.find_elements(
        By.CSS_SELECTOR, "#vmmon-instance[data-charts-loaded='1h']"))
    # Drawn, not assumed: the SVG path of cpu_util has points.
    first = wait(browser, "cpu_util drawn", 30,
                 lambda: chart_points(browser, "cpu_util"))
    assert first >= 1
    # Live: samples arrive through Horizon's relay and change values.
    cpu = browser.find_element(
        By.CSS_SELECTOR, '.vmmon-value[data-metric="cpu"]').text
    wait(browser, "live samples", 60, lambda: int(browser.find_element(
        By.ID, "vmmon-live-count").get_attribute("data-count") or 0) >= 2)
    wait(browser, "the cumulative cpu value changing live", 30,
         lambda: browser.find_element(
             By.CSS_SELECTOR, '.vmmon-value[data-metric="cpu"]').text != cpu)
    shot(browser, shots, "03-instance-overview")
    browser.find_element(By.CSS_SELECTOR, 'a[data-target$="charts"]').click()
    wait(browser, "the chart growing live", 60,
         lambda: chart_points(browser, "cpu_util") > first)
    time.sleep(1)
    shot(browser, shots, "04-instance-charts")
    for rng in ("24h", "7d", "30d"):
        browser.find_element(
            By.CSS_SELECTOR, '.vmmon-range[data-range="%s"]' % rng).click()
        wait(browser, "the %s charts" % rng, 60, lambda: browser.find_elements(
            By.CSS_SELECTOR, "#vmmon-instance[data-charts-loaded='%s']" % rng))
    assert browser.find_elements(By.CSS_SELECTOR, ".vmmon-chart svg")
    browser.find_element(By.CSS_SELECTOR, 'a[data-target$="events"]').click()
    time.sleep(0.5)
    assert "instance.create" in browser.page_source or \
        "libvirt." in browser.page_source
    shot(browser, shots, "05-instance-lifecycle")


def test_member_pauses_the_server(browser, horizon, bed, known, nova,
                                  clients, shots):
    guest, server = known
    browser.get(horizon["base"] + PANEL + server + "/")
    for key in ("stop", "reboot_soft", "pause", "suspend", "shelve"):
        assert browser.find_elements(By.ID, "vmmon-action-" + key), key
    for key in ("start", "unpause", "resume", "unshelve"):
        assert not browser.find_elements(By.ID, "vmmon-action-" + key), key
    browser.find_element(By.ID, "vmmon-action-pause").click()
    confirm = wait(browser, "the confirmation", 10,
                   lambda: [b for b in browser.find_elements(
                       By.CSS_SELECTOR, "#vmmon-confirm .btn-primary")
                       if b.is_displayed()])
    shot(browser, shots, "06-instance-pause-confirm")
    confirm[0].click()
    wait(browser, "the action pending or settled", 20,
         lambda: "Pause:" in browser.find_element(
             By.ID, "vmmon-action-progress").text)
    shot(browser, shots, "07-instance-pause-progress")
    wait(browser, "the action settled and the page showing it", 120,
         lambda: "settled=" in browser.current_url)
    assert "settled=succeeded" in browser.current_url
    wait(browser, "state paused", 30, lambda: browser.find_element(
        By.ID, "vmmon-state").text == "paused")
    assert browser.find_elements(By.ID, "vmmon-action-unpause")
    assert not browser.find_elements(By.ID, "vmmon-action-pause")
    assert nova.server(server)["status"] == "PAUSED"
    acts = list(clients["demo-member"].actions.list(server))
    assert acts and acts[-1]["action"] == "pause" and \
        acts[-1]["status"] == "succeeded"
    browser.find_element(By.CSS_SELECTOR, 'a[data-target$="actions"]').click()
    time.sleep(0.5)
    assert "succeeded" in browser.find_element(
        By.CSS_SELECTOR, "#actions").text
    shot(browser, shots, "08-instance-paused")


def test_reader_has_no_action(browser, horizon, bed, known, shots):
    guest, server = known
    login(browser, horizon, bed, "demo-reader")
    browser.get(horizon["base"] + PANEL)
    wait(browser, "the reader's table", 30,
         lambda: server in table_ids(browser))
    browser.get(horizon["base"] + PANEL + server + "/")
    wait(browser, "the instance page", 30,
         lambda: browser.find_elements(By.ID, "vmmon-state"))
    assert not browser.find_elements(By.CSS_SELECTOR, ".vmmon-action")
    shot(browser, shots, "09-reader-instance")


def test_alt_member_sees_none_of_demos(browser, horizon, bed, known,
                                       clients, shots):
    guest, server = known
    login(browser, horizon, bed, "alt-member")
    browser.get(horizon["base"] + PANEL)
    wait(browser, "the alt table", 30, lambda: browser.find_elements(
        By.CSS_SELECTOR, "#instances"))
    ids = table_ids(browser)
    assert not ids & api_ids(clients["demo-member"])
    assert ids == api_ids(clients["alt-member"])
    shot(browser, shots, "10-alt-member-monitoring")
    browser.get(horizon["base"] + PANEL + server + "/")
    wait(browser, "sent back with a message", 30,
         lambda: browser.current_url.rstrip("/").endswith(
             PANEL.rstrip("/")) and browser.find_elements(
                 By.CSS_SELECTOR, ".alert-danger, .alert-error"))
    assert "Traceback" not in browser.page_source
    with pytest.raises(exceptions.NotFound):
        clients["alt-member"].instances.get(server)
    shot(browser, shots, "11-alt-member-demo-instance")


def host_row(drv, host):
    return drv.find_element(By.CSS_SELECTOR,
                            '#hosts tr[data-object-id="%s"]' % host)


def test_admin_sees_the_hosts(browser, horizon, bed, stack, known, clients,
                              shots):
    host = stack["agent_host"]
    login(browser, horizon, bed, "admin")
    browser.get(horizon["base"] + ADMIN_PANEL)
    wait(browser, "the hosts table", 30, lambda: browser.find_elements(
        By.CSS_SELECTOR, "#hosts tbody tr[data-object-id]"))
    assert "up" in host_row(browser, host).text
    # The per-host load and the fleet's top-N, once vmmon has folded a
    # minute of them, asked as the page asks: latest values, which vmmon-api
    # serves from a cache refreshed behind the answer (a page loaded before
    # any minute was folded left an empty fold there). Waiting on the same
    # queries waits until the cache holds what the page will show. The host
    # load and the busiest instances come from different rollup rows, which
    # can land seconds apart: wait for both, as the page shows both.
    until("a per-host load in vmmon", 180, lambda: any(
        g.get("host") == host for g in clients["admin"].aggregates.list(
            "cpu_util", group_by="host", aggregation="sum",
            all_projects=True)), 3)
    until("the fleet's busiest instances in vmmon", 60,
          lambda: clients["admin"].aggregates.list(
              "cpu_util", limit=10, all_projects=True), 3)
    browser.get(horizon["base"] + ADMIN_PANEL)
    wait(browser, "the hosts table", 30, lambda: browser.find_elements(
        By.CSS_SELECTOR, "#hosts tbody tr[data-object-id]"))
    cpu = host_row(browser, host).find_elements(By.TAG_NAME, "td")[5].text
    assert cpu.endswith("%"), cpu
    assert browser.find_elements(By.CSS_SELECTOR,
                                 "#fleet_top tbody tr[data-object-id]")
    shot(browser, shots, "12-admin-monitoring")


def test_vmmon_down_leaves_horizon_working(browser, horizon, bed, stack,
                                           known, shots):
    login(browser, horizon, bed, "demo-member")
    # By now vmmon has folded minutes: the project's top-N has rows.
    browser.get(horizon["base"] + PANEL)
    wait(browser, "the project's top-N", 60, lambda: browser.find_elements(
        By.CSS_SELECTOR, ".vmmon-top-table a") or browser.refresh())
    shot(browser, shots, "13-project-monitoring-top")
    stack["procs"]["vmmon-api"].stop()
    browser.get(horizon["base"] + PANEL)
    wait(browser, "a message saying vmmon cannot be reached", 30,
         lambda: "cannot be reached" in browser.page_source)
    assert "Traceback" not in browser.page_source
    shot(browser, shots, "14-vmmon-down")
    browser.get(horizon["base"] + "/project/api_access/")
    wait(browser, "another panel working", 30,
         lambda: "API Access" in browser.title or
         "API Endpoints" in browser.page_source)
