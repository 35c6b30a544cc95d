/* The gateway's test page: plain browser JavaScript, no build step. MQTT.js comes from mqtt.min.js. */
/* global document, location, window, WebSocket, fetch, URL, URLSearchParams, TextDecoder, mqtt */
'use strict';

const MAX_MESSAGES = 500;

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('connect-form'),
  url: $('url'),
  clientId: $('clientId'),
  version: $('version'),
  username: $('username'),
  password: $('password'),
  keepalive: $('keepalive'),
  connect: $('connect'),
  disconnect: $('disconnect'),
  status: $('status'),
  diagnosis: $('diagnosis'),
  diagnosisText: $('diagnosis-text'),
  diagnosisDetail: $('diagnosis-detail'),
  subscribeForm: $('subscribe-form'),
  subTopic: $('sub-topic'),
  subQos: $('sub-qos'),
  subscribe: $('subscribe'),
  subscriptions: $('subscriptions'),
  publishForm: $('publish-form'),
  pubTopic: $('pub-topic'),
  pubPayload: $('pub-payload'),
  pubQos: $('pub-qos'),
  pubRetain: $('pub-retain'),
  publish: $('publish'),
  messages: $('messages'),
  messageCount: $('message-count'),
  noMessages: $('no-messages'),
  clear: $('clear'),
};

/** Topic filter → QoS, re-subscribed after each connect (the page uses clean sessions). */
const subscriptions = new Map();
let client = null;
/** What happened to the current connection attempt, for the diagnosis. */
let attempt = null;
let messageCount = 0;

// ---- CONNACK codes, in words -------------------------------------------------------------
// 3.1.1 return codes (1–5) and 5.0 reason codes (0x80+) do not overlap, so one table reads both.
const CONNACK_TEXT = {
  1: ['The broker does not accept this MQTT version.', 'Try the other MQTT version.'],
  2: ['The broker rejected the client ID.', 'Use a shorter client ID, or letters and digits only.'],
  3: ['The broker is unavailable.', 'The gateway reached it, but it is not taking clients now; try again later.'],
  4: ['The user name or password was refused.', 'Check the credentials.'],
  5: ['Not authorized: the broker refused this client.', 'It may need a user name and password, or this user may not connect.'],
  0x80: ['The broker refused the connection (unspecified error).', ''],
  0x81: ['The broker found the CONNECT packet malformed.', ''],
  0x82: ['The broker reported a protocol error.', ''],
  0x84: ['The broker does not accept MQTT 5.0.', 'Choose MQTT 3.1.1.'],
  0x85: ['The broker rejected the client ID.', 'Use a shorter client ID, or letters and digits only.'],
  0x86: ['The user name or password was refused.', 'Check the credentials.'],
  0x87: ['Not authorized: the broker refused this client.', 'It may need a user name and password, or this user may not connect.'],
  0x88: ['The broker is unavailable.', 'Try again later.'],
  0x89: ['The broker is busy.', 'Try again later.'],
  0x8a: ['This client is banned by the broker.', ''],
  0x8c: ['The authentication method is not supported.', ''],
  0x95: ['The CONNECT packet is too large for the broker.', ''],
  0x97: ['A quota was exceeded.', 'Try again later.'],
  0x9c: ['The broker asks the client to use another server.', ''],
  0x9d: ['The broker has moved.', ''],
  0x9f: ['Too many connections in a short time.', 'Wait a moment, then connect again.'],
};

// ---- Close codes sent by the gateway, in words (RFC 6455 §7.4) ----------------------------
const CLOSE_TEXT = {
  1001: 'The gateway is shutting down or restarting. Connect again in a moment.',
  1002: 'The gateway closed the connection after a protocol error.',
  1003: 'The gateway accepts only binary WebSocket frames (MQTT packets); a text frame was sent.',
  1008: 'The gateway closed the connection by policy.',
  1009: 'A packet was larger than the gateway allows (MAX_PACKET_SIZE).',
  1011: 'The gateway lost its connection to the MQTT broker.',
  1013: 'The gateway cannot reach its MQTT broker right now. Try again later.',
};

// ---- Defaults --------------------------------------------------------------------------------
function defaultUrl() {
  const params = new URLSearchParams(location.search);
  if (params.get('url')) return params.get('url');
  const url = new URL('mqtt', location.href);
  url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
  url.search = '';
  url.hash = '';
  return url.href;
}

ui.url.value = defaultUrl();
ui.clientId.value = `web-${Math.random().toString(16).slice(2, 10)}`;

// ---- Status and diagnosis ------------------------------------------------------------------
function setState(state, text) {
  ui.status.dataset.state = state;
  ui.status.textContent = text;
  const connected = state === 'connected';
  const busy = state === 'connecting' || connected;
  ui.connect.disabled = busy;
  ui.disconnect.disabled = !busy;
  ui.subscribe.disabled = !connected;
  ui.publish.disabled = !connected;
  for (const input of [ui.url, ui.clientId, ui.version, ui.username, ui.password, ui.keepalive]) input.disabled = busy;
}

/** Shows what went wrong (kind 'error') or a note (kind 'info'); `detail` is the technical part. */
function explain(message, detail = '', kind = 'error', link = null) {
  ui.diagnosis.hidden = false;
  ui.diagnosis.classList.toggle('info', kind === 'info');
  ui.diagnosisText.textContent = message;
  if (link) {
    ui.diagnosisText.append(' ');
    const a = document.createElement('a');
    a.href = link;
    a.target = '_blank';
    a.rel = 'noopener';
    a.textContent = link;
    ui.diagnosisText.append(a);
  }
  ui.diagnosisDetail.textContent = detail;
  ui.diagnosisDetail.hidden = detail === '';
}

function clearDiagnosis() {
  ui.diagnosis.hidden = true;
  ui.diagnosisText.textContent = '';
  ui.diagnosisDetail.textContent = '';
}

// ---- Connecting ------------------------------------------------------------------------------
function connect() {
  clearDiagnosis();
  const url = ui.url.value.trim();
  let parsed;
  try {
    parsed = new URL(url);
  } catch {
    explain('The URL is not valid. It looks like ws://host:port/mqtt or wss://host:port/mqtt.');
    return;
  }
  if (parsed.protocol !== 'ws:' && parsed.protocol !== 'wss:') {
    explain('The URL must start with ws:// (plain) or wss:// (TLS).', `got ${parsed.protocol}`);
    return;
  }
  if (location.protocol === 'https:' && parsed.protocol === 'ws:') {
    explain('A page loaded over HTTPS may not open a plain ws:// connection (the browser blocks mixed content). Use wss://.');
    return;
  }
  if (typeof mqtt === 'undefined') {
    explain('The MQTT library (mqtt.min.js) did not load, so this page cannot connect.', 'is the mqtt package installed on the gateway?');
    return;
  }

  const keepalive = Number(ui.keepalive.value) || 0;
  attempt = {
    url: parsed,
    subprotocol: 'mqtt',
    opened: false,
    connected: false,
    close: null,
    error: null,
    userClosed: false,
    keepalive,
  };
  const current = attempt;
  setState('connecting', 'Connecting…');
  client = mqtt.connect(url, {
    clientId: ui.clientId.value.trim() || undefined,
    username: ui.username.value || undefined,
    password: ui.password.value || undefined,
    protocolVersion: Number(ui.version.value),
    keepalive,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: 15000,
    // Our own WebSocket, so the page can see the handshake and the close code MQTT.js hides.
    createWebsocket: (wsUrl, protocols) => {
      current.subprotocol = protocols.join(', ');
      const ws = new WebSocket(wsUrl, protocols);
      ws.addEventListener('open', () => (current.opened = true));
      ws.addEventListener('close', (event) => {
        current.close = { code: event.code, reason: event.reason, wasClean: event.wasClean };
      });
      return ws;
    },
  });
  const own = client;

  own.on('connect', () => {
    current.connected = true;
    setState('connected', 'Connected');
    clearDiagnosis();
    for (const [topic, qos] of subscriptions) own.subscribe(topic, { qos });
  });
  own.on('message', (topic, payload, packet) => addMessage(topic, payload, packet));
  own.on('error', (err) => {
    current.error ??= err;
  });
  own.on('close', () => {
    if (client === own) client = null;
    own.end(true);
    if (current.userClosed) {
      setState('disconnected', 'Disconnected');
      return;
    }
    setState('failed', current.connected ? 'Disconnected' : 'Failed');
    diagnose(current);
  });
}

function disconnect() {
  if (!client) return;
  if (attempt) attempt.userClosed = true;
  const closing = client;
  client = null;
  closing.end(false, {}, () => setState('disconnected', 'Disconnected'));
}

// ---- Diagnosis -------------------------------------------------------------------------------
function closeDetail(close) {
  if (!close) return '';
  return `WebSocket close code ${close.code}${close.reason ? ` (“${close.reason}”)` : ''}`;
}

function diagnose(a) {
  const err = a.error;
  const detail = [err && err.message, closeDetail(a.close)].filter(Boolean).join(' · ');

  // The broker answered CONNACK with a refusal.
  if (err && typeof err.code === 'number' && CONNACK_TEXT[err.code]) {
    const [message, hint] = CONNACK_TEXT[err.code];
    explain(`${message} ${hint}`.trim(), detail);
    return;
  }
  if (err && /keepalive timeout/i.test(err.message)) {
    explain(
      `No answer to the keep alive ping within ${a.keepalive * 1.5} s: the network stalled, or a proxy dropped the ` +
        'connection without closing it.',
      detail,
    );
    return;
  }
  if (!a.opened) {
    void diagnoseHandshake(a, detail);
    return;
  }
  const close = a.close;
  if (close && CLOSE_TEXT[close.code]) {
    explain(`${CLOSE_TEXT[close.code]}${close.reason ? ` The gateway said: “${close.reason}”.` : ''}`, detail);
    return;
  }
  if (close && close.code === 1006) {
    const proxyHint =
      a.keepalive === 0 || a.keepalive >= 60
        ? ` Keep alive is ${a.keepalive} s: proxies and load balancers often close connections idle for 60 s; a keep alive below their timeout (e.g. 30 s) keeps the connection alive.`
        : ' A proxy or load balancer in front of the gateway may have closed it, or the network went away.';
    explain(`The connection dropped without a proper close.${proxyHint}`, detail);
    return;
  }
  if (!a.connected) {
    const said = close && close.reason ? ` It said: “${close.reason}”.` : '';
    explain(`The gateway closed the connection before the broker answered the CONNECT.${said}`, detail);
    return;
  }
  if (close && close.reason) {
    explain(`The gateway closed the connection: ${close.reason}.`, detail);
    return;
  }
  explain('The connection was closed.', detail, 'info');
}

/**
 * The browser tells a page nothing about a failed WebSocket handshake (no status, no TLS error),
 * so ask the same address over HTTP(S): the gateway answers 426 on its MQTT path, with what it expects.
 */
async function diagnoseHandshake(a, detail) {
  const { url } = a;
  const where = url.host;
  const httpUrl = new URL(url.href);
  httpUrl.protocol = url.protocol === 'wss:' ? 'https:' : 'http:';
  httpUrl.searchParams.set('origin', location.origin);
  let response;
  try {
    response = await fetch(httpUrl.href, { cache: 'no-store' });
  } catch {
    if (url.protocol === 'wss:') {
      const page = `https://${where}/`;
      explain(
        `No secure connection to ${where}. Most likely the browser does not trust the gateway's TLS certificate ` +
          '(a self-signed development certificate is never trusted by default): open this address in a new tab, ' +
          'accept or install the certificate, then connect again. Otherwise the host or port is wrong, or the gateway ' +
          'is not running:',
        detail || 'TLS handshake or network failure',
        'error',
        page,
      );
    } else {
      explain(
        `Nothing answered at ${where}: check the host and port, and that the gateway is running with its HTTP listener on.`,
        detail || 'network failure',
      );
    }
    return;
  }
  const status = `HTTP ${response.status} for GET ${url.pathname}`;
  const info = [detail, status].filter(Boolean).join(' · ');
  if (response.status === 426) {
    let body = {};
    try {
      body = await response.json();
    } catch {
      // not the gateway's answer; handled below as unknown
    }
    if (response.redirected && url.protocol === 'ws:') {
      explain(`The gateway accepts only secure WebSockets here: use wss://${where}${url.pathname}.`, info);
    } else if (body.originAllowed === false) {
      explain(
        `The gateway refused this page's origin (${location.origin}): it is not in the gateway's ALLOWED_ORIGINS.`,
        info,
      );
    } else if (Array.isArray(body.subprotocols)) {
      explain(
        'The gateway is there but refused the WebSocket handshake. Its connection limit may be reached, it may ' +
          'require a login token or client certificate, or it refused the subprotocol ' +
          `(it accepts ${body.subprotocols.join(', ')}; this page offers ${a.subprotocol}).`,
        info,
      );
    } else {
      explain(`${where} answered, but not as this gateway does.`, info);
    }
    return;
  }
  if (response.status === 404) {
    explain(
      `There is no MQTT endpoint at the path ${url.pathname} on ${where} (HTTP 404). The gateway's default path is /mqtt (WS_PATH).`,
      info,
    );
    return;
  }
  explain(
    `${where} answered HTTP ${response.status} instead of accepting a WebSocket. Is this the MQTT gateway? ` +
      'A reverse proxy in front of it must pass the Upgrade and Connection headers.',
    info,
  );
}

// ---- Subscriptions ---------------------------------------------------------------------------
function renderSubscriptions() {
  ui.subscriptions.replaceChildren(
    ...[...subscriptions].map(([topic, qos]) => {
      const li = document.createElement('li');
      li.textContent = `${topic} · QoS ${qos}`;
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.title = `Unsubscribe from ${topic}`;
      remove.setAttribute('aria-label', `Unsubscribe from ${topic}`);
      remove.textContent = '×';
      remove.addEventListener('click', () => {
        subscriptions.delete(topic);
        if (client) client.unsubscribe(topic);
        renderSubscriptions();
      });
      li.append(remove);
      return li;
    }),
  );
}

function subscribe() {
  const topic = ui.subTopic.value.trim();
  const qos = Number(ui.subQos.value);
  if (!client || topic === '') return;
  client.subscribe(topic, { qos }, (err, granted) => {
    if (err) {
      explain(`Subscribing to ${topic} failed.`, err.message);
      return;
    }
    const refused = granted && granted.find((g) => g.qos >= 0x80);
    if (refused) {
      explain(`The broker refused the subscription to ${topic} (not authorized, or an invalid filter).`, `SUBACK code 0x${refused.qos.toString(16)}`);
      return;
    }
    subscriptions.set(topic, qos);
    renderSubscriptions();
  });
}

// ---- Publishing ------------------------------------------------------------------------------
function publish() {
  const topic = ui.pubTopic.value.trim();
  if (!client || topic === '') return;
  const qos = Number(ui.pubQos.value);
  client.publish(topic, ui.pubPayload.value, { qos, retain: ui.pubRetain.checked }, (err) => {
    if (err) explain(`Publishing to ${topic} failed.`, err.message);
  });
}

// ---- Messages --------------------------------------------------------------------------------
const decoder = new TextDecoder('utf-8', { fatal: true });

function payloadText(payload) {
  try {
    return { text: decoder.decode(payload), binary: false };
  } catch {
    const hex = [...payload.subarray(0, 64)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
    return { text: `${payload.length} bytes: ${hex}${payload.length > 64 ? ' …' : ''}`, binary: true };
  }
}

function addMessage(topic, payload, packet) {
  const li = document.createElement('li');
  const time = document.createElement('time');
  const now = new Date();
  time.dateTime = now.toISOString();
  time.textContent = now.toLocaleTimeString();
  const topicEl = document.createElement('span');
  topicEl.className = 'topic';
  topicEl.textContent = topic;
  for (const tag of [`QoS ${packet.qos}`, ...(packet.retain ? ['retained'] : [])]) {
    const span = document.createElement('span');
    span.className = 'tag';
    span.textContent = tag;
    topicEl.append(span);
  }
  const { text, binary } = payloadText(payload);
  const body = document.createElement('span');
  body.className = binary ? 'payload binary' : 'payload';
  body.textContent = text;
  li.append(time, topicEl, body);
  ui.messages.prepend(li);
  while (ui.messages.children.length > MAX_MESSAGES) ui.messages.lastElementChild.remove();
  messageCount += 1;
  ui.messageCount.textContent = String(messageCount);
  ui.noMessages.hidden = true;
}

// ---- Wiring ----------------------------------------------------------------------------------
ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  connect();
});
ui.disconnect.addEventListener('click', disconnect);
ui.subscribeForm.addEventListener('submit', (event) => {
  event.preventDefault();
  subscribe();
});
ui.publishForm.addEventListener('submit', (event) => {
  event.preventDefault();
  publish();
});
ui.clear.addEventListener('click', () => {
  ui.messages.replaceChildren();
  messageCount = 0;
  ui.messageCount.textContent = '0';
  ui.noMessages.hidden = false;
});
window.addEventListener('pagehide', () => {
  if (client) client.end(true);
});
setState('disconnected', 'Disconnected');
