"""Views and tables of vmmon-dashboard with a stubbed vmmon (the functions
of vmmon_dashboard.api.vmmon), on Horizon's test helpers."""

from unittest import mock

from django.urls import reverse
from openstack_dashboard.test import helpers

from vmmon_dashboard.api import vmmon
from vmmonclient import exceptions
from vmmonclient import sse

INDEX = reverse("horizon:project:vmmon_monitoring:index")
ADMIN = reverse("horizon:admin:vmmon_overview:index")
IID = "5b6f8a8e-7c1d-4e0a-9f3b-0000000000b1"
API = "vmmon_dashboard.api.vmmon."

VMMON_SERVICE = {
    "type": "vm-monitor", "name": "vmmon", "endpoints_links": [],
    "endpoints": [{"region": "RegionOne", "interface": "public",
                   "url": "http://vmmon.example.com:8780"}],
}


def instance(iid=IID, name="web-1", state="active", cpu=12.5):
    detail = {"instance": {"id": iid, "name": name, "state": state},
              "agent": {"status": "up", "heartbeat_age_s": 3.2},
              "data_stale": False,
              "latest": [
                  {"name": "cpu_util", "unit": "%", "last_value": cpu},
                  {"name": "memory.usage", "unit": "MB", "last_value": 96},
                  {"name": "network.incoming.bytes.rate", "device": "tap0",
                   "unit": "B/s", "last_value": 1024},
                  {"name": "network.incoming.bytes.rate", "device": "tap1",
                   "unit": "B/s", "last_value": 1024}]}
    return vmmon.Instance(detail["instance"], detail), detail


class VmmonTestCase(helpers.TestCase):
    user_roles = ("member",)

    def _setup_user(self, **kwargs):
        catalog = list(self.service_catalog) + [VMMON_SERVICE]
        kwargs.setdefault("service_catalog", catalog)
        kwargs.setdefault("roles", [{"name": r} for r in self.user_roles])
        super()._setup_user(**kwargs)


class IndexTests(VmmonTestCase):

    @mock.patch(API + "aggregates", return_value=[
        {"instance_id": IID, "name": "web-1", "value": 93.2, "unit": "%"}])
    @mock.patch(API + "instance_list")
    def test_lists_instances_with_latest_values(self, lst, agg):
        lst.return_value = ([instance()[0], instance("i-2", "db-1")[0]],
                            True)
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertTemplateUsed(res, "vmmon_dashboard/project/index.html")
        html = res.content.decode()
        self.assertIn("web-1", html)
        self.assertIn("db-1", html)
        self.assertIn("12.5 %", html)            # cpu_util
        self.assertIn("2 KiB/s", html)            # two NICs summed
        self.assertIn("up (3 s ago)", html)       # agent freshness
        self.assertIn("93.2 %", html)             # top-N
        # Paged by vmmon: a next link with the last id as marker.
        self.assertIn("marker=i-2", html)
        lst.assert_called_once_with(mock.ANY, sort=None, marker=None)

    @mock.patch(API + "aggregates", return_value=[])
    @mock.patch(API + "instance_list", return_value=([], False))
    def test_sort_and_marker_go_to_vmmon(self, lst, agg):
        res = self.client.get(INDEX + "?sort=cpu_util:desc"
                              "&marker=abc")
        self.assertEqual(res.status_code, 200)
        lst.assert_called_once_with(mock.ANY, sort="cpu_util:desc",
                                    marker="abc")
        html = res.content.decode()
        # The header now offers the other direction; the browser sorts
        # nothing itself.
        self.assertIn("sort=cpu_util%3Aasc", html)
        self.assertNotIn('class="sortable', html)

    @mock.patch(API + "aggregates", return_value=[])
    @mock.patch(API + "instance_list", return_value=([], False))
    def test_search_is_a_vmmon_filter(self, lst, agg):
        res = self.client.post(INDEX, {"instances__filter__q": "web",
                                       "instances__filter__q_field": "name"})
        self.assertEqual(res.status_code, 302)
        self.client.get(INDEX)
        lst.assert_called_with(mock.ANY, sort=None, marker=None, name="web")

    @mock.patch(API + "aggregates")
    @mock.patch(API + "instance_list")
    def test_vmmon_down_is_a_message(self, lst, agg):
        lst.side_effect = exceptions.ServiceUnreachable("refused")
        res = self.client.get(INDEX)
        self.assertEqual(res.status_code, 200)
        self.assertMessageCount(res, error=1)
        self.assertIn("cannot be reached", res.content.decode())
        agg.assert_not_called()

    def test_panel_needs_vmmon_in_catalog(self):
        self.setActiveUser(id=self.user.id, token=self.token,
                           username=self.user.name, tenant_id=self.tenant.id,
                           service_catalog=self.service_catalog,
                           roles=[{"name": "member"}],
                           authorized_tenants=self.tenants.list())
        res = self.client.get(INDEX)
        self.assertNotEqual(res.status_code, 200)


class DetailTests(VmmonTestCase):

    def _get(self, state="active", events=()):
        with mock.patch(API + "instance_get",
                        return_value=instance(state=state)), \
                mock.patch(API + "event_list",
                           return_value=[vmmon.Record(e) for e in events]), \
                mock.patch(API + "action_list", return_value=[]):
            return self.client.get(reverse(
                "horizon:project:vmmon_monitoring:detail", args=[IID]))

    def test_member_sees_actions_of_the_state(self):
        res = self._get("active", [{"id": "e1", "event_type":
                                    "instance.lock"}])
        self.assertEqual(res.status_code, 200)
        html = res.content.decode()
        for key in ("stop", "reboot_soft", "reboot_hard", "pause", "suspend",
                    "shelve", "unlock"):
            self.assertIn('data-action="%s"' % key, html)
        for key in ("start", "unpause", "resume", "unshelve", "lock"):
            self.assertNotIn('data-action="%s"' % key, html)
        self.assertIn("vmmon-charts", html)
        self.assertIn("instance.lock", html)  # the timeline

    def test_paused_offers_unpause(self):
        html = self._get("paused").content.decode()
        self.assertIn('data-action="unpause"', html)
        self.assertNotIn('data-action="pause"', html)

    def test_unknown_instance_goes_back_with_a_message(self):
        with mock.patch(API + "instance_get",
                        side_effect=exceptions.NotFound(detail="nope")):
            res = self.client.get(reverse(
                "horizon:project:vmmon_monitoring:detail", args=[IID]))
        self.assertRedirectsNoFollow(res, INDEX)


class ReaderTests(VmmonTestCase):
    user_roles = ("reader",)

    def test_reader_sees_no_action(self):
        with mock.patch(API + "instance_get", return_value=instance()), \
                mock.patch(API + "event_list", return_value=[]), \
                mock.patch(API + "action_list", return_value=[]):
            res = self.client.get(reverse(
                "horizon:project:vmmon_monitoring:detail", args=[IID]))
        self.assertEqual(res.status_code, 200)
        self.assertNotIn('class="btn btn-default btn-sm vmmon-action"',
                         res.content.decode())

    @mock.patch(API + "action_create")
    @mock.patch(API + "event_list", return_value=[])
    @mock.patch(API + "instance_get", return_value=instance())
    def test_reader_cannot_post_an_action(self, get, ev, create):
        res = self.client.post(reverse(
            "horizon:project:vmmon_monitoring:action", args=[IID]),
            {"action": "pause"})
        self.assertEqual(res.status_code, 409)
        create.assert_not_called()


class ActionTests(VmmonTestCase):
    URL = reverse("horizon:project:vmmon_monitoring:action", args=[IID])

    @mock.patch(API + "action_create", return_value={
        "id": "a1", "action": "reboot", "status": "pending"})
    @mock.patch(API + "event_list", return_value=[])
    @mock.patch(API + "instance_get", return_value=instance())
    def test_member_runs_an_action(self, get, ev, create):
        res = self.client.post(self.URL, {"action": "reboot_hard"})
        self.assertEqual(res.status_code, 202)
        self.assertEqual(res.json()["action"]["id"], "a1")
        create.assert_called_once_with(mock.ANY, IID, "reboot", "HARD")

    @mock.patch(API + "action_create")
    @mock.patch(API + "event_list", return_value=[])
    @mock.patch(API + "instance_get", return_value=instance())
    def test_nova_refusal_is_shown(self, get, ev, create):
        create.side_effect = exceptions.Conflict(
            title="Conflict", detail="Instance is locked")
        res = self.client.post(self.URL, {"action": "pause"})
        self.assertEqual(res.status_code, 409)
        self.assertIn("Instance is locked", res.json()["error"])

    @mock.patch(API + "action_create")
    @mock.patch(API + "event_list", return_value=[])
    @mock.patch(API + "instance_get", return_value=instance())
    def test_action_the_state_refuses(self, get, ev, create):
        res = self.client.post(self.URL, {"action": "unpause"})
        self.assertEqual(res.status_code, 409)
        create.assert_not_called()

    @mock.patch(API + "instance_get", return_value=instance(state="paused"))
    @mock.patch(API + "action_get", return_value={
        "id": "a1", "action": "pause", "status": "succeeded"})
    def test_follow_an_action(self, get, inst):
        res = self.client.get(self.URL, {"id": "a1"})
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.json()["action"]["status"], "succeeded")
        self.assertEqual(res.json()["state"], "paused")


class JsonTests(VmmonTestCase):

    @mock.patch(API + "measures_all", return_value=[
        {"metric": "cpu_util", "series": [{"points": [
            {"timestamp": "2026-11-30T10:00:00Z", "value": 3.0}]}]}])
    def test_measures(self, m):
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:measures", args=[IID]),
            {"range": "24h"})
        self.assertEqual(res.status_code, 200)
        self.assertEqual(res.json()["charts"][0]["metric"], "cpu_util")
        m.assert_called_once_with(mock.ANY, IID, "24h")

    def test_measures_bad_range(self):
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:measures", args=[IID]),
            {"range": "1y"})
        self.assertEqual(res.status_code, 400)

    @mock.patch(API + "measures_all")
    def test_measures_error_is_json(self, m):
        m.side_effect = exceptions.BadRequest(detail="range too long")
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:measures", args=[IID]))
        self.assertEqual(res.status_code, 400)
        self.assertIn("range too long", res.json()["error"])

    @mock.patch(API + "latest_values", return_value={IID: {
        "latest": {"cpu_util": 50.0}, "units": {"cpu_util": "%"},
        "agent": {"status": "up", "heartbeat_age_s": 1}, "data_stale": False,
        "state": "active"}})
    def test_latest(self, lv):
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:latest"), {"ids": IID})
        cells = res.json()["instances"][IID]["cells"]
        self.assertEqual(cells["cpu_util"], "50 %")

    @mock.patch(API + "stream_events")
    def test_stream_is_relayed(self, se):
        se.return_value = iter([
            sse.ServerSentEvent(event="message", retry=3000),
            sse.ServerSentEvent(event="sample", id="1",
                                data='{"metrics": []}'),
            sse.ServerSentEvent(event="end", data='{"detail": "x"}')])
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:stream", args=[IID]))
        self.assertEqual(res["Content-Type"], "text/event-stream")
        body = b"".join(res.streaming_content).decode()
        self.assertIn("retry: 3000", body)
        self.assertIn('id: 1\nevent: sample\ndata: {"metrics": []}\n\n', body)
        self.assertIn("event: end", body)

    @mock.patch(API + "stream_events")
    def test_stream_refused(self, se):
        se.side_effect = exceptions.NotFound(detail="no such instance")
        res = self.client.get(reverse(
            "horizon:project:vmmon_monitoring:stream", args=[IID]))
        self.assertEqual(res.status_code, 404)


class AdminTests(VmmonTestCase):
    user_roles = ("admin",)

    @mock.patch(API + "aggregates")
    @mock.patch(API + "host_list")
    def test_hosts_and_fleet(self, hosts, agg):
        hosts.return_value = [vmmon.Host({"name": "compute-1",
                                          "status": "up",
                                          "heartbeat_age_s": 4.0})]

        def aggregates(request, metric, group_by="instance", **kw):
            if group_by == "host":
                return [{"host": "compute-1", "value": 150.0, "unit": "%"}]
            return [{"instance_id": IID, "name": "web-1",
                     "project_id": "p1", "value": 93.2, "unit": "%"}]
        agg.side_effect = aggregates
        res = self.client.get(ADMIN)
        self.assertEqual(res.status_code, 200)
        html = res.content.decode()
        self.assertIn("compute-1", html)
        self.assertIn("150 %", html)
        self.assertIn("93.2 %", html)
        self.assertIn("web-1", html)

    @mock.patch(API + "host_list")
    def test_vmmon_down(self, hosts):
        hosts.side_effect = exceptions.ServiceUnreachable("refused")
        res = self.client.get(ADMIN)
        self.assertEqual(res.status_code, 200)
        self.assertMessageCount(res, error=1)


class InstanceListTests(VmmonTestCase):
    """api.vmmon.instance_list asks vmmon for one page and one more."""

    def test_asks_vmmon_to_sort_search_and_page(self):
        client = mock.Mock()
        client.instances.list.return_value = iter(
            [{"id": "a", "name": "web-1"}, {"id": "b", "name": "web-2"},
             {"id": "c", "name": "web-3"}])
        request = self.factory.get(INDEX)
        with mock.patch(API + "vmmonclient", return_value=client):
            got, more = vmmon.instance_list(
                request, sort="cpu_util:desc", name="web", flavor="",
                marker="m", limit=2, with_latest=False)
        client.instances.list.assert_called_once_with(
            sort="cpu_util:desc", name="web", flavor=None, state=None,
            marker="m", limit=3, page_size=3)
        self.assertEqual([i.id for i in got], ["a", "b"])
        self.assertTrue(more)
