#!/usr/bin/python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""A stand-in for postern-agent on the session bus, for the app's
benchmarks and for trying the UI without a server: it serves N generated
channels (--channels N) through the real interface XML, creates, pauses and
revokes in memory, and raises an alert when asked (InjectAlert, an extra
method on io.github.postern.Postern.Test1). Not used by the tests, which run
the real agent."""

import argparse
import datetime
import json
import random
import string
import sys
import uuid

from gi.repository import Gio, GLib

BUS_NAME = "io.github.postern.Postern.Agent"
PATH = "/io/github/postern/Postern/Agent"
TEST_XML = """
<node>
  <interface name="io.github.postern.Postern.Test1">
    <method name="InjectAlert">
      <arg name="channel_id" type="s" direction="in"/>
      <arg name="sender" type="s" direction="in"/>
    </method>
  </interface>
</node>
"""


def iso(ts):
    return datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Agent:
    def __init__(self, connection, xml_path, n_channels, domain):
        self.connection = connection
        self.domain = domain
        self.channels = {}
        self.events = []
        self.revision = 0
        self.next_event = 1
        now = int(GLib.get_real_time() / 1e6)
        labels = ["Recruiter, FOSDEM", "Bike shop", "LWN newsletter", "Dentist", "Landlord", "Bank",
                  "Climbing gym", "GUADEC registration", "Airline", "Car insurance"]
        rng = random.Random(42)
        for i in range(n_channels):
            label = labels[i] if i < len(labels) else "%s %d" % (labels[i % len(labels)], i)
            self.add_channel(label, "one-time", None, now - rng.randint(0, 90 * 86400))
        info = Gio.DBusNodeInfo.new_for_xml(open(xml_path).read())
        connection.register_object(PATH, info.interfaces[0], self.call, None, None)
        test_info = Gio.DBusNodeInfo.new_for_xml(TEST_XML)
        connection.register_object(PATH, test_info.interfaces[0], self.call, None, None)

    def add_channel(self, label, kind, sender, created):
        self.revision += 1
        local = "".join(random.choice(string.ascii_lowercase + string.digits) for _ in range(10))
        channel = {
            "id": str(uuid.uuid4()), "address": "%s@%s" % (local, self.domain), "label": label,
            "note": "", "kind": kind, "state": "active", "on_unexpected": "alert", "farewell": "refuse",
            "farewell_text": "", "created_at": iso(created), "expires_at": None,
            "revision": self.revision, "expected_senders": [sender] if sender else [],
        }
        self.channels[channel["id"]] = channel
        return channel

    def status(self):
        return GLib.Variant("a{sv}", {
            "paired": GLib.Variant("b", True), "server": GLib.Variant("s", "https://127.0.0.1:8443"),
            "user": GLib.Variant("s", "alice"), "online": GLib.Variant("b", True),
            "connection": GLib.Variant("s", "online"),
            "fingerprint": GLib.Variant("s", "49:02:DD:06:DC:01:84:58:8E:C5:37:84:BA:DE:01:44:56:81:75:39:21:1B:FC:0D:0E:AC:FE:40:81:55:A3:2A"),
            "pending": GLib.Variant("u", 0), "unread_alerts": GLib.Variant("u", 0),
            "domains": GLib.Variant("as", [self.domain]), "message": GLib.Variant("s", ""),
        })

    def emit(self, name, signature, *args):
        self.connection.emit_signal(None, PATH, "io.github.postern.Postern.Agent1", name, GLib.Variant(signature, args))

    def set_state(self, cid, state):
        channel = self.channels[cid]
        self.revision += 1
        channel["state"] = state
        channel["revision"] = self.revision
        self.emit("ChannelChanged", "(s)", json.dumps(channel))

    def call(self, connection, sender, path, interface, method, params, invocation):
        args = params.unpack()
        if method == "GetStatus":
            invocation.return_value(GLib.Variant.new_tuple(self.status()))
        elif method == "ListChannels":
            invocation.return_value(GLib.Variant("(s)", (json.dumps(list(self.channels.values())),)))
        elif method == "GetChannel":
            invocation.return_value(GLib.Variant("(s)", (json.dumps(self.channels[args[0]]),)))
        elif method == "CreateChannel":
            options = args[0]
            channel = self.add_channel(options.get("label", ""), options.get("kind", "one-time"),
                                       options.get("expected_sender"), int(GLib.get_real_time() / 1e6))
            invocation.return_value(GLib.Variant("(s)", (json.dumps(channel),)))
            self.emit("ChannelChanged", "(s)", json.dumps(channel))
        elif method in ("Revoke", "Pause", "Resume"):
            self.set_state(args[0], {"Revoke": "revoked", "Pause": "paused", "Resume": "active"}[method])
            invocation.return_value(None)
        elif method == "ListEvents":
            events = [e for e in self.events if not args[0] or e["channel_id"] == args[0]]
            invocation.return_value(GLib.Variant("(s)", (json.dumps(events[::-1][: args[1] or 1000]),)))
        elif method in ("ListPending",):
            invocation.return_value(GLib.Variant("(s)", ("[]",)))
        elif method in ("ListHeld",):
            invocation.return_value(GLib.Variant("(s)", ("[]",)))
        elif method == "InjectAlert":
            cid, who = args
            event = {"id": self.next_event, "channel_id": cid, "received_at": iso(int(GLib.get_real_time() / 1e6)),
                     "envelope_sender": who, "header_from": who, "subject": "Cheap watches",
                     "message_id": "<%d@spam.example>" % self.next_event, "size": 2048, "verdict": "unexpected"}
            self.next_event += 1
            self.events.append(event)
            invocation.return_value(None)
            self.emit("EventAdded", "(s)", json.dumps(event))
            self.emit("Alert", "(ss)", json.dumps(event), json.dumps(self.channels[cid]))
        else:
            # MarkAlertsRead, RecordShare, TrustSender, … : accepted, ignored.
            invocation.return_value(None)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--interface", required=True, help="data/io.github.postern.Postern.Agent.xml")
    parser.add_argument("--channels", type=int, default=0)
    parser.add_argument("--domain", default="ch.example.org")
    options = parser.parse_args()

    loop = GLib.MainLoop()
    connection = Gio.bus_get_sync(Gio.BusType.SESSION, None)
    agent = Agent(connection, options.interface, options.channels, options.domain)
    Gio.bus_own_name_on_connection(connection, BUS_NAME, Gio.BusNameOwnerFlags.NONE,
                                   lambda *a: print("ready", flush=True), lambda *a: loop.quit())
    agent  # keep a reference
    loop.run()


if __name__ == "__main__":
    sys.exit(main())
