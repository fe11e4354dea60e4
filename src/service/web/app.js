// The Together Mode page: publishes the camera over WHIP, views the room over WHEP, draws each
// seated participant's name over their seat from the events WebSocket's seating map, and leaves.
// Plain JS, served by `together serve` (src/service/web/); no framework, no build step.
'use strict';

const params = new URLSearchParams(location.search);
const $ = (id) => document.getElementById(id);
// What the page knows, for people and for tests (tests/browser/run.mjs reads it).
const state = {
  meeting: params.get('meeting') || '',
  token: params.get('token') || '',
  me: null,
  room: 'main',
  published: false,
  viewing: false,
  sceneSize: null,
  seatingMap: {},
  streams: [],
  lastSeq: 0,
  errors: [],
  left: false,
};
window.together = { state, grab, leave };

let pub = null; // { pc, location, stream }
let view = null; // { pc, location, room }
let ws = null;

function status(text, isError) {
  const el = $('status');
  el.textContent = text;
  el.classList.toggle('error', !!isError);
}

function fail(where, err) {
  const text = err && err.code ? `${where}: ${err.code}/${err.subcode} ${err.message || ''}` : `${where}: ${err}`;
  state.errors.push(text);
  status(text, true);
}

// The service's ACS-style error body `{code, subcode, message}`, or the HTTP status.
async function errorOf(res) {
  try {
    const body = await res.json();
    if (body && body.code) return body;
  } catch (_) { /* not JSON */ }
  return { code: res.status, subcode: 0, message: res.statusText };
}

async function api(method, route, body) {
  const res = await fetch(`/api/meetings/${encodeURIComponent(state.meeting)}/${route}`, {
    method,
    headers: { Authorization: `Bearer ${state.token}`, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!res.ok) throw await errorOf(res);
  return res.status === 204 ? null : res.json();
}

// Non-trickle: resolves when ICE gathering is complete (or after `ms`, with what there is).
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState !== 'complete') return;
      pc.removeEventListener('icegatheringstatechange', done);
      clearTimeout(timer);
      resolve();
    };
    const timer = setTimeout(() => {
      pc.removeEventListener('icegatheringstatechange', done);
      resolve();
    }, ms);
    pc.addEventListener('icegatheringstatechange', done);
  });
}

// One WHIP or WHEP exchange: the whole offer out, the whole answer back.
async function negotiate(pc, url) {
  await pc.setLocalDescription(await pc.createOffer());
  await gathered(pc, 5000);
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: `Bearer ${state.token}`, 'Content-Type': 'application/sdp' },
    body: pc.localDescription.sdp,
  });
  if (res.status !== 201) throw await errorOf(res);
  const location = new URL(res.headers.get('Location'), new URL(url, window.location.href)).pathname;
  await pc.setRemoteDescription({ type: 'answer', sdp: await res.text() });
  return location;
}

async function publish() {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640, max: 640 }, height: { ideal: 360, max: 360 } },
    audio: false,
  });
  $('self').srcObject = stream;
  const pc = new RTCPeerConnection();
  for (const track of stream.getVideoTracks()) {
    pc.addTransceiver(track, { direction: 'sendonly', streams: [stream] });
  }
  const location = await negotiate(pc, `/whip/${encodeURIComponent(state.meeting)}`);
  pub = { pc, location, stream };
  state.published = true;
}

async function watch(room) {
  if (view && view.room === room) return;
  await unwatch();
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', { direction: 'recvonly' });
  pc.addEventListener('track', (e) => {
    $('room').srcObject = e.streams[0] || new MediaStream([e.track]);
  });
  const url = `/whep/${encodeURIComponent(state.meeting)}/${encodeURIComponent(room)}`;
  const location = await negotiate(pc, url);
  view = { pc, location, room };
  state.viewing = true;
}

async function unwatch() {
  if (!view) return;
  const v = view;
  view = null;
  state.viewing = false;
  v.pc.close();
  await fetch(v.location, { method: 'DELETE', headers: { Authorization: `Bearer ${state.token}` } })
    .catch(() => {});
}

// The stage's size in CSS pixels: the sceneSize the seating map is asked for.
function stageSize() {
  const r = $('stage').getBoundingClientRect();
  return { width: Math.max(1, Math.round(r.width)), height: Math.max(1, Math.round(r.height)) };
}

function nameOf(rawId) {
  const i = rawId.lastIndexOf(':');
  return i >= 0 ? rawId.slice(i + 1) : rawId;
}

function drawSeats() {
  const overlay = $('overlay');
  overlay.replaceChildren();
  if (!state.sceneSize || !state.streams.length) return;
  // The map is in sceneSize; the overlay may differ by a rounding or a resize in flight.
  const r = overlay.getBoundingClientRect();
  const sx = r.width / state.sceneSize.width;
  const sy = r.height / state.sceneSize.height;
  for (const [rawId, seat] of Object.entries(state.seatingMap)) {
    const box = document.createElement('div');
    box.className = 'seat';
    box.dataset.participant = rawId;
    box.style.left = `${seat.left * sx}px`;
    box.style.top = `${seat.top * sy}px`;
    box.style.width = `${seat.width * sx}px`;
    box.style.height = `${seat.height * sy}px`;
    const label = document.createElement('span');
    label.textContent = nameOf(rawId);
    box.append(label);
    overlay.append(box);
  }
}

function onEvent(msg) {
  if (msg.error) {
    fail('events', msg.error);
    return;
  }
  if (typeof msg.seq === 'number') state.lastSeq = msg.seq;
  if (msg.room && msg.event !== 'togetherModeStreamsUpdated' && msg.room !== state.room
      && msg.event !== 'connected') {
    return; // another room's map (a manager sees them)
  }
  switch (msg.event || msg.reply) {
    case 'connected':
      state.room = msg.room;
      state.streams = msg.streams || [];
      setMap(msg.sceneSize, msg.seatingMap);
      watch(state.room).catch((e) => fail('view', e));
      break;
    case 'sceneSize':
    case 'togetherModeSceneUpdated':
    case 'togetherModeSeatingUpdated':
      setMap(msg.sceneSize, msg.seatingMap);
      break;
    case 'togetherModeStreamsUpdated':
      if (msg.room === state.room) {
        const removed = new Set((msg.removed || []).map((s) => s.id));
        state.streams = state.streams.filter((s) => !removed.has(s.id)).concat(msg.added || []);
        drawSeats();
      }
      break;
    case 'breakoutRoomsUpdated':
      if (msg.type === 'join' && msg.data && me(msg.data.participantId)) follow(msg.data.threadId);
      break;
    default:
      break;
  }
}

function me(rawId) {
  return state.me && state.me.participantId === rawId;
}

// Follows the participant into their breakout room's stream and back.
function follow(room) {
  state.room = room || 'main';
  state.streams = [];
  state.seatingMap = {};
  drawSeats();
  api('GET', `togetherMode/seatingMap?room=${encodeURIComponent(state.room)}`)
    .then((m) => setMap(m.sceneSize, m.seatingMap)).catch(() => {});
  api('GET', `togetherMode/streams?room=${encodeURIComponent(state.room)}`)
    .then((s) => { state.streams = s; drawSeats(); }).catch(() => {});
  watch(state.room).catch((e) => fail('view', e));
}

function setMap(sceneSize, seatingMap) {
  if (sceneSize) state.sceneSize = sceneSize;
  if (seatingMap) state.seatingMap = seatingMap;
  drawSeats();
}

function listen() {
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  const s = stageSize();
  const url = `${scheme}://${location.host}/api/meetings/${encodeURIComponent(state.meeting)}`
    + `/events?sceneSize=${s.width}x${s.height}`;
  ws = new WebSocket(url);
  ws.addEventListener('open', () => ws.send(JSON.stringify({ token: state.token })));
  ws.addEventListener('message', (e) => {
    try {
      onEvent(JSON.parse(e.data));
    } catch (err) {
      fail('events', err);
    }
  });
  ws.addEventListener('close', (e) => {
    // Refused (4000 + the HTTP status): the token will not do better. Otherwise reconnect: a
    // new `connected` brings the state back.
    if (e.code >= 4000) fail('events', { code: e.code - 4000, subcode: 0, message: e.reason });
    else if (!state.left) setTimeout(listen, 1000);
  });
}

// Keeps sceneSize equal to the video's size on the page.
function watchSize() {
  let last = '';
  new ResizeObserver(() => {
    const s = stageSize();
    const key = `${s.width}x${s.height}`;
    if (key === last) return;
    last = key;
    if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ sceneSize: s }));
    drawSeats();
  }).observe($('stage'));
}

async function startTogetherMode() {
  try {
    await api('POST', 'togetherMode/start');
    status('Together Mode started');
  } catch (e) {
    fail('start', e);
  }
}

async function leave() {
  state.left = true;
  if (ws) ws.close();
  await unwatch();
  if (pub) {
    const p = pub;
    pub = null;
    state.published = false;
    p.pc.close();
    p.stream.getTracks().forEach((t) => t.stop());
    await fetch(p.location, { method: 'DELETE', headers: { Authorization: `Bearer ${state.token}` } })
      .catch(() => {});
  }
  await api('POST', 'leave').catch(() => {});
  status('left');
}

// The room's video as decoded, for tests and snapshots: its size and RGBA pixels of a rectangle
// (video pixels; default the whole frame).
function grab(rect) {
  const v = $('room');
  const w = v.videoWidth;
  const h = v.videoHeight;
  if (!w || !h) return { width: 0, height: 0, data: [] };
  const c = document.createElement('canvas');
  c.width = w;
  c.height = h;
  const g = c.getContext('2d', { willReadFrequently: true });
  g.drawImage(v, 0, 0, w, h);
  const r = rect || { left: 0, top: 0, width: w, height: h };
  const img = g.getImageData(Math.round(r.left), Math.round(r.top),
    Math.max(1, Math.round(r.width)), Math.max(1, Math.round(r.height)));
  return { width: w, height: h, data: Array.from(img.data) };
}

async function main() {
  if (!state.meeting || !state.token) {
    const form = $('join-form');
    form.hidden = false;
    form.meeting.value = state.meeting;
    return; // the form submits back here with the query parameters
  }
  $('call').hidden = false;
  $('leave').addEventListener('click', leave);
  $('start').addEventListener('click', startTogetherMode);
  try {
    state.me = await api('POST', 'join');
  } catch (e) {
    fail('join', e);
    return;
  }
  $('who').textContent = `${nameOf(state.me.participantId)} (${state.me.role})`;
  // Start is offered to roles that may start Together Mode; the server decides anyway.
  $('start').hidden = !['organizer', 'coOrganizer', 'presenter'].includes(state.me.role);
  watchSize();
  try {
    await publish();
    status('publishing');
  } catch (e) {
    fail('publish', e);
  }
  if (params.get('start') === '1') await startTogetherMode();
  listen();
}

main();
