#!/usr/bin/python3
"""jitsi-jwt test bed: stand-in for Jitsi's jicofo (Jitsi Conference Focus).

Does the one job of jicofo that clients depend on: logged in as
focus@auth.<domain>, it answers the
  <iq type='set'><conference xmlns='http://jitsi.org/protocol/focus' room='R@conference.<domain>'/></iq>
that clients send through the client_proxy component (focus.<domain>) by
joining (creating) the room and answering <conference ready='true'/>. It leaves
a room when its last other occupant has left, or 60 s after creating it when
nobody came. Reconnects every second when the connection drops.

Usage: jicofo-standin.py [/etc/jitsi/jicofo/jicofo.conf]   (Python 3 stdlib only)
"""

import base64
import json
import os
import re
import signal
import socket
import ssl
import sys
import time
import xml.etree.ElementTree as ET
from xml.sax.saxutils import escape, quoteattr

NS_CLIENT = "jabber:client"
NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_SASL = "urn:ietf:params:xml:ns:xmpp-sasl"
NS_BIND = "urn:ietf:params:xml:ns:xmpp-bind"
NS_SESSION = "urn:ietf:params:xml:ns:xmpp-session"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
NS_FOCUS = "http://jitsi.org/protocol/focus"
NS_MUC = "http://jabber.org/protocol/muc"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_PING = "urn:xmpp:ping"

PORT = 5222
NICK = "focus"
EMPTY_ROOM_TIMEOUT = 60.0   # leave a room nobody joined after this long
JOIN_TIMEOUT = 15.0         # give up on a join Prosody did not answer
KEEPALIVE = 30.0            # whitespace keepalive interval


def log(message):
    now = time.time()
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + ".%03dZ" % (now % 1 * 1000)
    print("%s jicofo-standin: %s" % (stamp, message), flush=True)


# --- configuration (just enough HOCON for the stock jicofo.conf) ---------------

_TOKEN = re.compile(r'''
    (?P<ws>[ \t\r]+)
  | (?P<comment>(?:\#|//)[^\n]*)
  | (?P<nl>\n)
  | (?P<triple>"""(?:.|\n)*?""")
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<punct>[{}\[\]:=,])
  | (?P<word>(?:[^\s{}\[\]:=,"\#/]|/(?!/))+)
''', re.VERBOSE)


def _tokens(text):
    pos, out = 0, []
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise ValueError("cannot parse config near %r" % text[pos:pos + 20])
        pos = m.end()
        kind = m.lastgroup
        value = m.group()
        if kind in ("ws", "comment"):
            continue
        if kind == "string":
            value = ("s", json.loads(value))
        elif kind == "triple":
            value = ("s", value[3:-3])
        elif kind == "word":
            value = ("w", value)
        elif kind == "nl":
            value = ("nl", "\n")
        else:
            value = ("p", value)
        out.append(value)
    return out


def parse_hocon(text):
    """Flattens a HOCON document into {"a.b.c": "value"} (strings only)."""
    toks = _tokens(text)
    out = {}
    i = 0

    def skip_separators():
        nonlocal i
        while i < len(toks) and (toks[i][0] == "nl" or toks[i] == ("p", ",")):
            i += 1

    def skip_value_block(open_, close):
        nonlocal i
        depth = 0
        while i < len(toks):
            if toks[i] == ("p", open_):
                depth += 1
            elif toks[i] == ("p", close):
                depth -= 1
                if depth == 0:
                    i += 1
                    return
            i += 1

    def parse_object(prefix):
        nonlocal i
        while True:
            skip_separators()
            if i >= len(toks) or toks[i] == ("p", "}"):
                i += 1
                return
            kind, key = toks[i]
            i += 1
            parts = key.split(".") if kind == "w" else [key]
            path = prefix + parts
            while i < len(toks) and toks[i][0] == "nl":
                i += 1
            if i < len(toks) and toks[i] in (("p", ":"), ("p", "=")):
                i += 1
            while i < len(toks) and toks[i][0] == "nl":
                i += 1
            if i >= len(toks):
                return
            if toks[i] == ("p", "{"):
                i += 1
                parse_object(path)
            elif toks[i] == ("p", "["):
                skip_value_block("[", "]")
            else:
                words = []
                while i < len(toks) and toks[i][0] in ("s", "w"):
                    words.append(toks[i][1])
                    i += 1
                if key != "include":
                    out[".".join(path)] = " ".join(words)

    parse_object([])
    return out


def load_config(path):
    with open(path, encoding="utf-8") as f:
        flat = parse_hocon(f.read())
    client = {k[len("jicofo.xmpp.client."):]: v for k, v in flat.items()
              if k.startswith("jicofo.xmpp.client.")}
    conf = {
        "hostname": client.get("hostname", "localhost"),
        "port": int(client.get("port", PORT)),
        "domain": client.get("domain"),
        "xmpp_domain": client.get("xmpp-domain"),
        "username": client.get("username", "focus"),
        "password": client.get("password"),
        "client_proxy": client.get("client-proxy"),
    }
    if not conf["domain"] or not conf["password"]:
        raise ValueError("%s: jicofo.xmpp.client.domain and .password are required" % path)
    if not conf["xmpp_domain"]:
        d = conf["domain"]
        conf["xmpp_domain"] = d[len("auth."):] if d.startswith("auth.") else d
    return conf


# --- XMPP connection -------------------------------------------------------------

class Disconnected(Exception):
    pass


class Stopping(Exception):
    pass


def local(tag):
    return tag.rsplit("}", 1)[-1]


def bare(jid):
    return (jid or "").split("/", 1)[0]


def resource(jid):
    parts = (jid or "").split("/", 1)
    return parts[1] if len(parts) == 2 else None


class Connection:
    def __init__(self, conf, stop):
        self.conf = conf
        self.stop = stop
        self.sock = None
        self.parser = None
        self.depth = 0
        self.root = None
        self.queue = []

    # transport
    def open(self):
        host, port = self.conf["hostname"], self.conf["port"]
        log("connecting to %s:%d" % (host, port))
        self.sock = socket.create_connection((host, port), timeout=10)
        self.sock.settimeout(1.0)

    def close(self):
        if self.sock:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None

    def send(self, data):
        try:
            self.sock.settimeout(10)
            self.sock.sendall(data.encode("utf-8"))
            self.sock.settimeout(1.0)
        except OSError as e:
            raise Disconnected("send failed: %s" % e)

    def start_stream(self):
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.root = None
        self.queue = []
        self.send("<?xml version='1.0'?><stream:stream xmlns='jabber:client' "
                  "xmlns:stream='http://etherx.jabber.org/streams' version='1.0' to=%s>"
                  % quoteattr(self.conf["domain"]))

    def starttls(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE   # the test bed's certificates are self-signed
        self.sock.settimeout(10)
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.conf["domain"])
        self.sock.settimeout(1.0)

    def _feed(self, data):
        self.parser.feed(data)
        for event, elem in self.parser.read_events():
            if event == "start":
                self.depth += 1
                if self.depth == 1:
                    self.root = elem
            else:
                self.depth -= 1
                if self.depth == 1:
                    self.queue.append(elem)
                    self.root.remove(elem)
                elif self.depth == 0:
                    raise Disconnected("server closed the stream")

    def read(self, timeout=None):
        """Next top-level element; None after `timeout` seconds (None = 1 s tick)."""
        deadline = time.monotonic() + (timeout if timeout is not None else 1.0)
        while not self.queue:
            if self.stop():
                raise Stopping()
            if time.monotonic() >= deadline:
                return None
            try:
                data = self.sock.recv(65536)
            except (socket.timeout, ssl.SSLWantReadError):
                continue
            except OSError as e:
                raise Disconnected("read failed: %s" % e)
            if not data:
                raise Disconnected("connection closed by server")
            try:
                self._feed(data)
            except ET.ParseError as e:
                raise Disconnected("XML error: %s" % e)
        return self.queue.pop(0)

    def expect(self, timeout=10):
        elem = self.read(timeout)
        if elem is None:
            raise Disconnected("server did not answer in %d s" % timeout)
        if elem.tag == "{%s}error" % NS_STREAM:
            raise Disconnected("stream error: %s" % ", ".join(local(c.tag) for c in elem))
        return elem

    def login(self):
        self.start_stream()
        features = self.expect()
        if features.find("{%s}starttls" % NS_TLS) is None:
            raise Disconnected("server does not offer STARTTLS")
        self.send("<starttls xmlns='%s'/>" % NS_TLS)
        answer = self.expect()
        if local(answer.tag) != "proceed":
            raise Disconnected("STARTTLS refused")
        self.starttls()
        self.start_stream()
        features = self.expect()
        mechs = [m.text for m in features.iter("{%s}mechanism" % NS_SASL)]
        if "PLAIN" not in mechs:
            raise Disconnected("server offers no SASL PLAIN (offers %s)" % mechs)
        cred = "\0%s\0%s" % (self.conf["username"], self.conf["password"])
        self.send("<auth xmlns='%s' mechanism='PLAIN'>%s</auth>"
                  % (NS_SASL, base64.b64encode(cred.encode("utf-8")).decode()))
        answer = self.expect()
        if local(answer.tag) != "success":
            text = answer.findtext("{%s}text" % NS_SASL) or ""
            cond = [local(c.tag) for c in answer if local(c.tag) != "text"]
            raise Disconnected("login as %s@%s refused: %s %s"
                               % (self.conf["username"], self.conf["domain"], cond, text))
        self.start_stream()
        features = self.expect()
        res = "focus-%s" % os.urandom(4).hex()
        self.send("<iq type='set' id='bind1'><bind xmlns='%s'><resource>%s</resource></bind></iq>"
                  % (NS_BIND, res))
        answer = self.expect()
        jid = answer.findtext("{%s}bind/{%s}jid" % (NS_BIND, NS_BIND))
        if answer.get("type") != "result" or not jid:
            raise Disconnected("resource binding failed")
        if features.find("{%s}session" % NS_SESSION) is not None:
            self.send("<iq type='set' id='sess1'><session xmlns='%s'/></iq>" % NS_SESSION)
            answer = self.expect()
            if answer.get("type") != "result":
                raise Disconnected("session establishment failed")
        self.send("<presence/>")
        return jid


# --- the focus -------------------------------------------------------------------

class Room:
    def __init__(self, jid):
        self.jid = jid
        self.joined = False
        self.started = time.monotonic()
        self.waiters = []          # (iq id, requester) to answer once joined
        self.others = set()        # nicks of other occupants
        self.anyone_came = False


class Focus:
    def __init__(self, conf):
        self.conf = conf
        self.muc = "conference." + conf["xmpp_domain"]
        self.rooms = {}
        self.leaving = {}          # room JID -> our unavailable presences not yet echoed
        self.stopping = False
        self.conn = None
        self.jid = None

    # replies
    def send_conference_result(self, room, iq_id, to):
        self.conn.send("<iq type='result' id=%s to=%s><conference xmlns='%s' ready='true' room=%s/></iq>"
                       % (quoteattr(iq_id), quoteattr(to), NS_FOCUS, quoteattr(room)))

    def send_iq_error(self, iq_id, to, condition, text=None, etype="cancel", room=None):
        child = ("<conference xmlns='%s' room=%s/>" % (NS_FOCUS, quoteattr(room))) if room else ""
        text_el = ("<text xmlns='%s'>%s</text>" % (NS_STANZAS, escape(text))) if text else ""
        self.conn.send("<iq type='error' id=%s to=%s>%s<error type='%s'><%s xmlns='%s'/>%s</error></iq>"
                       % (quoteattr(iq_id or ""), quoteattr(to), child, etype, condition, NS_STANZAS, text_el))

    def leave(self, room, why):
        log("leaving %s (%s)" % (room.jid, why))
        self.conn.send("<presence type='unavailable' to=%s/>" % quoteattr(room.jid + "/" + NICK))
        self.rooms.pop(room.jid, None)
        self.leaving[room.jid] = self.leaving.get(room.jid, 0) + 1

    # stanzas
    def on_iq(self, iq):
        itype, iq_id, sender = iq.get("type"), iq.get("id"), iq.get("from") or ""
        if itype not in ("get", "set"):
            return
        conference = iq.find("{%s}conference" % NS_FOCUS)
        if itype == "set" and conference is not None:
            return self.on_conference(conference, iq_id, sender)
        if itype == "get" and iq.find("{%s}ping" % NS_PING) is not None:
            return self.conn.send("<iq type='result' id=%s to=%s/>" % (quoteattr(iq_id or ""), quoteattr(sender)))
        if itype == "set" and iq.find("{jabber:iq:roster}query") is not None and bare(sender) in ("", bare(self.jid)):
            return self.conn.send("<iq type='result' id=%s/>" % quoteattr(iq_id or ""))
        self.send_iq_error(iq_id, sender, "service-unavailable")

    def on_conference(self, conference, iq_id, sender):
        room_jid = (conference.get("room") or "").lower()
        requester = resource(sender) or sender
        log("conference request for %s from %s" % (room_jid or "?", requester))
        node, _, host = room_jid.partition("@")
        if not node or not host or "/" in host:
            return self.send_iq_error(iq_id, sender, "bad-request", "room attribute missing or invalid",
                                      etype="modify", room=room_jid or None)
        room = self.rooms.get(room_jid)
        if room and room.joined:
            log("already in %s, answering ready" % room_jid)
            return self.send_conference_result(room_jid, iq_id, sender)
        if not room:
            room = self.rooms[room_jid] = Room(room_jid)
            log("joining %s" % room_jid)
            self.conn.send("<presence to=%s><x xmlns='%s'/></presence>"
                           % (quoteattr(room_jid + "/" + NICK), NS_MUC))
        room.waiters.append((iq_id, sender))

    def on_presence(self, presence):
        sender = presence.get("from") or ""
        room_jid = bare(sender).lower()
        room = self.rooms.get(room_jid)
        ptype = presence.get("type")
        if ptype == "subscribe":
            # The real client_proxy subscribes to focus's presence: accept.
            self.conn.send("<presence type='subscribed' to=%s/>" % quoteattr(bare(sender)))
            self.conn.send("<presence to=%s/>" % quoteattr(bare(sender)))
            return
        nick = resource(sender)
        if ptype == "unavailable" and nick == NICK and self.leaving.get(room_jid):
            # the echo of a leave we asked for; a new Room for this JID is not affected
            self.leaving[room_jid] -= 1
            if not self.leaving[room_jid]:
                del self.leaving[room_jid]
            return
        if not room:
            return
        x = presence.find("{%s}x" % NS_MUC_USER)
        codes = {s.get("code") for s in x.findall("{%s}status" % NS_MUC_USER)} if x is not None else set()
        is_self = "110" in codes or nick == NICK
        if ptype == "error":
            if room.joined:
                return
            err = presence.find("{%s}error" % NS_CLIENT)
            cond, text = "internal-server-error", None
            if err is not None:
                for c in err:
                    if local(c.tag) == "text":
                        text = c.text
                    elif c.tag.startswith("{%s}" % NS_STANZAS):
                        cond = local(c.tag)
            log("could not join %s: %s %s" % (room.jid, cond, text or ""))
            for iq_id, to in room.waiters:
                self.send_iq_error(iq_id, to, cond, text, room=room.jid)
            self.rooms.pop(room.jid, None)
        elif is_self:
            if ptype == "unavailable":
                log("removed from %s" % room.jid)
                self.rooms.pop(room.jid, None)
                return
            if not room.joined:
                room.joined = True
                log("joined %s%s" % (room.jid, " (created it)" if "201" in codes else ""))
                for iq_id, to in room.waiters:
                    self.send_conference_result(room.jid, iq_id, to)
                room.waiters = []
        else:
            if ptype == "unavailable":
                if nick in room.others:
                    room.others.discard(nick)
                    log("%s left %s (%d others remain)" % (nick, room.jid, len(room.others)))
                    if room.joined and not room.others:
                        self.leave(room, "last participant left")
            elif nick not in room.others:
                room.others.add(nick)
                room.anyone_came = True
                log("%s joined %s" % (nick, room.jid))

    def tick(self):
        now = time.monotonic()
        for room in list(self.rooms.values()):
            if not room.joined and now - room.started > JOIN_TIMEOUT:
                log("no answer joining %s" % room.jid)
                for iq_id, to in room.waiters:
                    self.send_iq_error(iq_id, to, "remote-server-timeout", "focus could not join the room",
                                       etype="wait", room=room.jid)
                self.rooms.pop(room.jid, None)
            elif room.joined and not room.anyone_came and now - room.started > EMPTY_ROOM_TIMEOUT:
                self.leave(room, "nobody joined in %d s" % EMPTY_ROOM_TIMEOUT)

    def session(self):
        self.conn = Connection(self.conf, lambda: self.stopping)
        self.rooms = {}
        self.leaving = {}
        try:
            self.conn.open()
            log("connected; logging in as %s@%s" % (self.conf["username"], self.conf["domain"]))
            self.jid = self.conn.login()
            log("logged in as %s" % self.jid)
            last_send = time.monotonic()
            while True:
                elem = self.conn.read()
                if elem is not None:
                    name = local(elem.tag)
                    if elem.tag == "{%s}error" % NS_STREAM:
                        raise Disconnected("stream error: %s" % ", ".join(local(c.tag) for c in elem))
                    if name == "iq":
                        self.on_iq(elem)
                    elif name == "presence":
                        self.on_presence(elem)
                self.tick()
                if time.monotonic() - last_send > KEEPALIVE:
                    self.conn.send(" ")
                    last_send = time.monotonic()
        except Stopping:
            try:
                for room in list(self.rooms.values()):
                    if room.joined:
                        self.leave(room, "shutting down")
                self.conn.send("<presence type='unavailable'/></stream:stream>")
            except Exception:
                pass
        finally:
            self.conn.close()

    def run(self):
        while not self.stopping:
            try:
                self.session()
            except (Disconnected, OSError, ssl.SSLError) as e:
                log("disconnected: %s" % e)
            if self.stopping:
                break
            deadline = time.monotonic() + 1.0
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.1)
        log("stopped")


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "/etc/jitsi/jicofo/jicofo.conf"
    try:
        conf = load_config(path)
    except (OSError, ValueError) as e:
        log("cannot read configuration: %s" % e)
        return 1
    focus = Focus(conf)

    def on_signal(signum, _frame):
        log("got %s, stopping" % signal.Signals(signum).name)
        focus.stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    log("starting (pid %d): %s@%s via %s, conference MUC %s"
        % (os.getpid(), conf["username"], conf["domain"], conf["hostname"], focus.muc))
    focus.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
