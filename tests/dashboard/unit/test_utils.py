"""vmmon_dashboard.utils: the actions a user may run, messages, values."""

from unittest import mock

from vmmon_dashboard import utils
from vmmonclient import exceptions


def request(*roles):
    return mock.Mock(user=mock.Mock(roles=[{"name": r} for r in roles]))


def keys(req, state, locked=None, task=None):
    got = utils.allowed_actions(req, state, locked, task)
    return [k for k, _a, _t, _l in got]


def test_reader_may_not_act():
    assert keys(request("reader"), "active") == []


def test_member_actions_by_state():
    m = request("member", "reader")
    assert keys(m, "active", locked=False) == [
        "stop", "reboot_soft", "reboot_hard", "pause", "suspend", "lock",
        "shelve"]
    assert keys(m, "stopped") == ["start", "reboot_hard", "lock", "unlock",
                                  "shelve"]
    assert keys(m, "shelved_offloaded", locked=True) == ["unlock",
                                                         "unshelve"]
    assert keys(m, "suspended") == ["reboot_hard", "resume", "lock",
                                    "unlock", "shelve"]


def test_no_action_while_nova_is_busy():
    assert keys(request("admin"), "active", task="rebooting") == []


def test_lock_state_from_events():
    assert utils.locked_from_events([{"event_type": "instance.pause.end"},
                                     {"event_type": "instance.unlock"},
                                     {"event_type": "instance.lock"}]) is False
    assert utils.locked_from_events([]) is None


def test_human():
    assert utils.human(None) == "-"
    assert utils.human(12.345, "%") == "12.3 %"
    assert utils.human(3 * 1024 * 1024, "B/s") == "3 MiB/s"
    assert utils.human(96, "MB") == "96 MB"


def test_error_messages_say_what_to_do():
    down = str(utils.error_message(exceptions.ServiceUnreachable("x"),
                                   "list the instances"))
    assert "cannot be reached" in down and "list the instances" in down
    e500 = exceptions.InternalServerError(request_id="req-1")
    assert "req-1" in str(utils.error_message(e500, "x"))
    assert "Traceback" not in str(utils.error_message(e500, "x"))
    bad = exceptions.BadRequest(title="Bad Request", detail="Unknown sort")
    assert "Unknown sort" in str(utils.error_message(bad, "sort"))


def test_freshness():
    assert str(utils.freshness({"status": "up", "heartbeat_age_s": 2.4})) \
        == "up (2 s ago)"
    assert str(utils.freshness({})) == "no agent"
