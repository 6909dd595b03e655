"""What the views share: error messages, the actions a user may run on an
instance, and how values are shown."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

from vmmonclient import exceptions

# action (and reboot type) -> (label, instance states that allow it)
ACTIONS = (
    ("stop", None, _("Stop"), ("active", "error")),
    ("start", None, _("Start"), ("stopped",)),
    ("reboot", "SOFT", _("Soft Reboot"), ("active",)),
    ("reboot", "HARD", _("Hard Reboot"),
     ("active", "stopped", "paused", "suspended", "error")),
    ("pause", None, _("Pause"), ("active",)),
    ("unpause", None, _("Unpause"), ("paused",)),
    ("suspend", None, _("Suspend"), ("active",)),
    ("resume", None, _("Resume"), ("suspended",)),
    ("lock", None, _("Lock"), None),
    ("unlock", None, _("Unlock"), None),
    ("shelve", None, _("Shelve"), ("active", "stopped", "paused",
                                   "suspended")),
    ("unshelve", None, _("Unshelve"), ("shelved", "shelved_offloaded")),
)

# Roles that may act (vmmon's policy: readers see, members act).
ACTING_ROLES = ("member", "admin")
# Roles Keystone may spell otherwise.
ROLE_ALIASES = {"_member_": "member"}


def role_names(request):
    names = set()
    for r in getattr(request.user, "roles", None) or []:
        name = (r.get("name") if isinstance(r, dict) else str(r)) or ""
        name = name.lower()
        names.add(ROLE_ALIASES.get(name, name))
    return names


def can_act(request):
    return bool(role_names(request) & set(ACTING_ROLES))


def allowed_actions(request, state, locked=None, task_state=None):
    """[(key, action, type, label)] the user may run on an instance in
    state now: none for readers, none while Nova is busy with it (a task
    state), lock or unlock by the lock state when known."""
    if not can_act(request) or task_state:
        return []
    state = (state or "").lower()
    out = []
    for action, rtype, label, states in ACTIONS:
        if action == "lock" and locked is True:
            continue
        if action == "unlock" and locked is False:
            continue
        if states is not None and state not in states:
            continue
        if states is None and state in ("deleted", "soft_deleted", ""):
            continue
        key = action + ("_" + rtype.lower() if rtype else "")
        out.append((key, action, rtype, label))
    return out


def locked_from_events(events):
    """True/False from the newest instance.lock/unlock event, None when
    neither is known. (vmmon's instance carries no lock flag.)"""
    for e in events:  # newest first
        t = e.get("event_type") or ""
        if t == "instance.lock":
            return True
        if t == "instance.unlock":
            return False
    return None


def error_message(exc, what):
    """One line a person can act on, for an error of vmmon."""
    if isinstance(exc, exceptions.EndpointNotFound):
        return _("Unable to %(what)s: vmmon is not in this cloud's service "
                 "catalog (service type vm-monitor). Ask the cloud's "
                 "operator to register it.") % {"what": what}
    if isinstance(exc, exceptions.ServiceUnreachable):
        return _("Unable to %(what)s: the monitoring service (vmmon) cannot "
                 "be reached right now. The rest of the dashboard works; "
                 "try again later or tell the cloud's operator.") % {
                     "what": what}
    if isinstance(exc, exceptions.Unauthorized):
        return _("Unable to %(what)s: vmmon refused your session's token. "
                 "Log out and log in again.") % {"what": what}
    if isinstance(exc, exceptions.Forbidden):
        return _("Unable to %(what)s: your role does not allow it (%(d)s).") \
            % {"what": what, "d": exc.detail or exc.title or "403"}
    if isinstance(exc, exceptions.HttpError) and exc.http_status >= 500:
        return _("Unable to %(what)s: vmmon could not answer (HTTP "
                 "%(status)s, request %(rid)s). Try again later, or give "
                 "the request id to the cloud's operator.") % {
                     "what": what, "status": exc.http_status,
                     "rid": exc.request_id or "unknown"}
    return _("Unable to %(what)s: %(err)s") % {"what": what, "err": exc}


SIZE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def human(value, unit=None):
    """A value with its unit, short: 12.3 %, 1.5 MiB/s, 96 MB."""
    if value is None:
        return "-"
    unit = unit or ""
    if unit in ("B", "B/s"):
        suffix = "/s" if unit == "B/s" else ""
        v, i = float(value), 0
        while abs(v) >= 1024 and i < len(SIZE_UNITS) - 1:
            v /= 1024
            i += 1
        return "%s %s%s" % (_num(v), SIZE_UNITS[i], suffix)
    return ("%s %s" % (_num(value), unit)).strip()


def _num(v):
    v = float(v)
    if v == int(v) and abs(v) < 1e6:
        return "%d" % v
    if abs(v) >= 100:
        return "%.0f" % v
    if abs(v) >= 10:
        return "%.1f" % v
    return "%.2f" % v


def freshness(agent, data_stale=None):
    """The agent's freshness in words: "up (3 s ago)", "stale", "down"."""
    if not agent:
        return _("no agent")
    status = agent.get("status") or _("unknown")
    age = agent.get("heartbeat_age_s")
    text = str(status)
    if age is not None:
        text += " (%s)" % age_text(age)
    if data_stale:
        text += ", " + str(_("data stale"))
    return text


def age_text(seconds):
    s = float(seconds)
    if s < 90:
        return _("%d s ago") % round(s)
    if s < 5400:
        return _("%d min ago") % round(s / 60)
    if s < 172800:
        return _("%d h ago") % round(s / 3600)
    return _("%d days ago") % round(s / 86400)


def when(ts):
    """An API timestamp as "YYYY-MM-DD HH:MM:SS" (UTC)."""
    return str(ts or "").replace("T", " ")[:19]
