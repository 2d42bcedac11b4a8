// A small XMPP client over BOSH (XEP-0124/0206) that walks the path a Jitsi
// client takes: SASL ANONYMOUS with the token in the URL, resource binding, the
// conference request to focus (jicofo creates the room), the MUC join.
import http from 'node:http';
import https from 'node:https';
import { randomBytes, randomInt } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { parse, type Element } from 'ltx';

const NS = {
  bosh: 'http://jabber.org/protocol/httpbind',
  sasl: 'urn:ietf:params:xml:ns:xmpp-sasl',
  bind: 'urn:ietf:params:xml:ns:xmpp-bind',
  session: 'urn:ietf:params:xml:ns:xmpp-session',
  stanzas: 'urn:ietf:params:xml:ns:xmpp-stanzas',
  focus: 'http://jitsi.org/protocol/focus',
  muc: 'http://jabber.org/protocol/muc',
  mucUser: 'http://jabber.org/protocol/muc#user',
};

export interface BoshOptions {
  /** e.g. http://127.0.0.2:5280/http-bind or https://meet.example.com/http-bind */
  url: string;
  /** the XMPP domain; sent as the HTTP Host header unless `hostHeader` says otherwise */
  domain: string;
  hostHeader?: string;
  /** the XMPP host to log in on when it is not `domain` (recorder.<domain>, guest.<domain>) */
  xmppDomain?: string;
  token?: string;
  /** the room this session is for, in the URL as Jitsi's web client puts it (?room=): Prosody's log lines about the session name it */
  room?: string;
  /** log in with a password (SASL PLAIN) instead of anonymously */
  login?: { user: string; password: string };
  /** accept any TLS certificate (test CAs, self-signed) */
  insecure?: boolean;
  /** CA certificates to trust for https URLs */
  ca?: string | Buffer;
  timeoutMs?: number;
  /** opens the TCP stream for each HTTP request, e.g. an SSH tunnel to the server's Prosody */
  openStream?: () => Promise<Duplex>;
}

/** How the server answered a step: the XMPP condition and text it gave, if it refused. */
export interface Refusal {
  condition: string;
  text?: string;
  /** other elements the error (or the stanza) carries, e.g. waiting-for-host, lobbyroom */
  extra?: string[];
  stanza: string;
}

export type StepResult = { ok: true; detail?: string } | ({ ok: false } & Refusal);

export class XmppTransportError extends Error {}

const localName = (el: Element) => el.name.split(':').pop()!;

function escapeAttr(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/'/g, '&apos;').replace(/"/g, '&quot;');
}

function refusalOf(el: Element | undefined, stanza: Element): Refusal {
  const elements = (parent: Element | undefined) => (parent?.children ?? []).filter((c): c is Element => typeof c !== 'string');
  const conditionEl = elements(el).find((c) => localName(c) !== 'text' && c.attrs.xmlns === NS.stanzas) ?? elements(el).find((c) => localName(c) !== 'text');
  const text = el?.getChild('text')?.getText();
  const extra = [...elements(el), ...elements(stanza)].filter((c) => c !== conditionEl && c !== el && !['text', 'error', 'x'].includes(localName(c))).map(localName);
  return { condition: conditionEl ? localName(conditionEl) : 'unknown', text: text || undefined, ...(extra.length > 0 ? { extra } : {}), stanza: stanza.toString() };
}

export class BoshClient {
  private rid = randomInt(1_000_000, 2 ** 31);
  private sid?: string;
  private inbox: Element[] = [];
  private readonly timeoutMs: number;
  private readonly wait = 2;
  jid?: string;

  constructor(private readonly options: BoshOptions) {
    this.timeoutMs = options.timeoutMs ?? 10_000;
  }

  private url(): URL {
    const url = new URL(this.options.url);
    if (this.options.token !== undefined) url.searchParams.set('token', this.options.token);
    if (this.options.room !== undefined) url.searchParams.set('room', this.options.room);
    return url;
  }

  /** http.request's createConnection in its callback form, fed by an asynchronous stream opener. */
  private tunnelled(open: () => Promise<Duplex>) {
    return ((_options: unknown, callback: (error: Error | null, stream?: Duplex) => void) => {
      open().then(
        (stream) => callback(null, stream),
        (error: Error) => callback(error),
      );
      return undefined;
    }) as unknown as http.RequestOptions['createConnection'];
  }

  private post(body: string): Promise<Element> {
    const url = this.url();
    const client = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const request = client.request(
        url,
        {
          method: 'POST',
          headers: {
            Host: this.options.hostHeader ?? this.options.domain,
            // Current plugins may take the token only from this header (token in
            // the URL switched off); older ones read only the query parameter.
            ...(this.options.token !== undefined ? { Authorization: `Bearer ${this.options.token}` } : {}),
            'Content-Type': 'text/xml; charset=utf-8',
            'Content-Length': Buffer.byteLength(body),
          },
          rejectUnauthorized: !this.options.insecure,
          ca: this.options.ca,
          servername: url.protocol === 'https:' ? (this.options.hostHeader ?? this.options.domain) : undefined,
          timeout: (this.wait + 10) * 1000,
          // No agent: http.request uses createConnection only when no agent is set (agent: false would make a fresh one and connect directly).
          ...(this.options.openStream ? { createConnection: this.tunnelled(this.options.openStream) } : {}),
        },
        (response) => {
          const chunks: Buffer[] = [];
          response.on('data', (chunk: Buffer) => chunks.push(chunk));
          response.on('end', () => {
            const text = Buffer.concat(chunks).toString('utf8');
            if (response.statusCode !== 200) {
              reject(new XmppTransportError(`${url.origin}${url.pathname} answered HTTP ${response.statusCode}: ${text.slice(0, 200)}`));
              return;
            }
            try {
              resolve(parse(text));
            } catch (error) {
              reject(new XmppTransportError(`unreadable BOSH answer from ${url.origin}${url.pathname}: ${(error as Error).message}`));
            }
          });
        },
      );
      request.on('timeout', () => request.destroy(new XmppTransportError(`no BOSH answer from ${url.origin}${url.pathname} in time`)));
      request.on('error', (error) => reject(error instanceof XmppTransportError ? error : new XmppTransportError(`cannot reach ${url.origin}${url.pathname}: ${error.message}`)));
      request.end(body);
    });
  }

  private async exchange(payload: string, attributes = ''): Promise<void> {
    const body = `<body xmlns='${NS.bosh}' rid='${this.rid++}' sid='${this.sid}'${attributes}>${payload}</body>`;
    const answer = await this.post(body);
    if (answer.attrs.type === 'terminate') {
      throw new XmppTransportError(`the server ended the BOSH session (${answer.attrs.condition ?? 'no condition'})`);
    }
    this.inbox.push(...answer.children.filter((c): c is Element => typeof c !== 'string'));
  }

  /** Waits for a stanza matching `match`, polling the server while none has come. */
  private async until(match: (el: Element) => boolean, what: string): Promise<Element> {
    const deadline = Date.now() + this.timeoutMs;
    for (;;) {
      const index = this.inbox.findIndex(match);
      if (index >= 0) return this.inbox.splice(index, 1)[0];
      if (Date.now() > deadline) throw new XmppTransportError(`timed out waiting for ${what}`);
      await this.exchange('');
    }
  }

  private get xmppDomain(): string {
    return this.options.xmppDomain ?? this.options.domain;
  }

  async connect(): Promise<void> {
    const domain = this.xmppDomain;
    const answer = await this.post(
      `<body xmlns='${NS.bosh}' rid='${this.rid++}' to='${escapeAttr(domain)}' xml:lang='en' wait='${this.wait}' hold='1' ver='1.6' xmpp:version='1.0' xmlns:xmpp='urn:xmpp:xbosh'/>`,
    );
    if (answer.attrs.type === 'terminate' || !answer.attrs.sid) {
      throw new XmppTransportError(`the server refused a BOSH session for ${domain} (${answer.attrs.condition ?? answer.toString().slice(0, 200)})`);
    }
    this.sid = answer.attrs.sid;
    this.inbox.push(...answer.children.filter((c): c is Element => typeof c !== 'string'));
  }

  /** SASL ANONYMOUS (with token auth, this is where the token is judged), or PLAIN with `login`. */
  async authenticate(): Promise<StepResult> {
    const features = await this.until((el) => localName(el) === 'features', 'stream features');
    const mechanisms = features.getChild('mechanisms', NS.sasl)?.getChildren('mechanism').map((m) => m.getText()) ?? [];
    const mechanism = this.options.login ? 'PLAIN' : 'ANONYMOUS';
    if (!mechanisms.includes(mechanism)) {
      return { ok: false, condition: `no-${mechanism.toLowerCase()}-mechanism`, text: `offered: ${mechanisms.join(', ') || 'none'}`, stanza: features.toString() };
    }
    if (this.options.login) {
      const { user, password } = this.options.login;
      const initial = Buffer.from(`\0${user}\0${password}`, 'utf8').toString('base64');
      await this.exchange(`<auth xmlns='${NS.sasl}' mechanism='PLAIN'>${initial}</auth>`);
    } else {
      await this.exchange(`<auth xmlns='${NS.sasl}' mechanism='ANONYMOUS'/>`);
    }
    const answer = await this.until((el) => ['success', 'failure'].includes(localName(el)), 'the SASL outcome');
    if (localName(answer) === 'failure') return { ok: false, ...refusalOf(answer, answer) };
    return { ok: true };
  }

  /** Stream restart, resource binding and session: the client gets its JID. */
  async bind(): Promise<string> {
    await this.exchange('', ` xmpp:restart='true' xmlns:xmpp='urn:xmpp:xbosh' to='${escapeAttr(this.xmppDomain)}' xml:lang='en'`);
    await this.until((el) => localName(el) === 'features', 'stream features after authentication');
    const bound = await this.iq(`<iq type='set' id='bind'><bind xmlns='${NS.bind}'/></iq>`, 'bind');
    if (bound.attrs.type !== 'result') throw new XmppTransportError(`resource binding failed: ${bound.toString()}`);
    this.jid = bound.getChild('bind', NS.bind)?.getChildText('jid') ?? undefined;
    await this.iq(`<iq type='set' id='session'><session xmlns='${NS.session}'/></iq>`, 'session');
    return this.jid ?? '';
  }

  private async iq(xml: string, id: string): Promise<Element> {
    await this.exchange(xml);
    return this.until((el) => localName(el) === 'iq' && el.attrs.id === id && ['result', 'error'].includes(el.attrs.type), `the answer to iq ${id}`);
  }

  /** Asks focus (jicofo, through client_proxy) for the room, as a Jitsi client does before joining. */
  async requestConference(roomJid: string): Promise<StepResult> {
    const id = `conference-${randomBytes(4).toString('hex')}`;
    const answer = await this.iq(
      `<iq type='set' id='${id}' to='focus.${escapeAttr(this.options.domain)}'><conference xmlns='${NS.focus}' room='${escapeAttr(roomJid)}' machine-uid='${randomBytes(16).toString('hex')}'/></iq>`,
      id,
    );
    if (answer.attrs.type === 'error') return { ok: false, ...refusalOf(answer.getChild('error'), answer) };
    const ready = answer.getChild('conference', NS.focus)?.attrs.ready;
    return ready === 'true' ? { ok: true } : { ok: false, condition: 'not-ready', text: `focus answered ready='${ready}'`, stanza: answer.toString() };
  }

  /**
   * Joins a MUC room; success is the self-presence (status 110). With
   * `settleMs`, later self-presences in that window update the affiliation:
   * some plugins grant it only after the join (muc-occupant-joined).
   */
  async join(roomJid: string, nick: string, options: { settleMs?: number } = {}): Promise<StepResult> {
    const occupant = `${roomJid}/${nick}`;
    const fromRoom = (el: Element) => localName(el) === 'presence' && el.attrs.from?.toLowerCase().startsWith(roomJid.toLowerCase());
    await this.exchange(`<presence to='${escapeAttr(occupant)}'><x xmlns='${NS.muc}'/></presence>`);
    const answer = await this.until((el) => fromRoom(el) && (el.attrs.type === 'error' || this.isSelfPresence(el)), `the answer to joining ${roomJid}`);
    if (answer.attrs.type === 'error') return { ok: false, ...refusalOf(answer.getChild('error'), answer) };
    const affiliationOf = (el: Element) => el.getChild('x', NS.mucUser)?.getChild('item')?.attrs.affiliation as string | undefined;
    let affiliation = affiliationOf(answer);
    const settleUntil = Date.now() + (options.settleMs ?? 0);
    while (Date.now() < settleUntil) {
      await this.exchange('');
      for (let i = this.inbox.findIndex((el) => fromRoom(el) && this.isSelfPresence(el)); i >= 0; i = this.inbox.findIndex((el) => fromRoom(el) && this.isSelfPresence(el))) {
        affiliation = affiliationOf(this.inbox.splice(i, 1)[0]) ?? affiliation;
      }
    }
    return { ok: true, detail: affiliation ? `affiliation ${affiliation}` : undefined };
  }

  private isSelfPresence(el: Element): boolean {
    const statuses = el.getChild('x', NS.mucUser)?.getChildren('status').map((s) => s.attrs.code) ?? [];
    return statuses.includes('110');
  }

  /** Ends the session (leaving any room), never throws. */
  async close(): Promise<void> {
    if (!this.sid) return;
    const body = `<body xmlns='${NS.bosh}' rid='${this.rid++}' sid='${this.sid}' type='terminate'><presence type='unavailable' xmlns='jabber:client'/></body>`;
    this.sid = undefined;
    await this.post(body).catch(() => undefined);
  }
}
