// Drives Debian's chromium (headless, through playwright-core) against a running
// `together serve`: two participants join with the page, each publishing a fake camera (a
// real-footage clip when given), the organizer with `start=1`; reports what the pages saw as
// one JSON line on stdout. tests/browser.rs starts the server, mints the tokens, runs this and
// checks the report and the recording. Every wait is bounded.
//
//   node run.mjs '{"base": "http://127.0.0.1:PORT", "meeting": "M", "organizer": TOKEN,
//                  "attendee": TOKEN, "empty": {"meeting": "E", "token": TOKEN},
//                  "clip": "footage/clips/close.y4m" | null, "recording": "DIR/M/main.y4m",
//                  "timeoutMs": 60000}'
import { statSync } from 'node:fs';
import { chromium } from 'playwright-core';

const opts = JSON.parse(process.argv[2]);
const deadline = Date.now() + (opts.timeoutMs || 60000);
const left = () => Math.max(1, deadline - Date.now());

const args = [
  '--use-fake-device-for-media-stream',
  '--use-fake-ui-for-media-stream',
  '--allow-loopback-in-peer-connection',
  '--autoplay-policy=no-user-gesture-required',
];
if (opts.clip) args.push(`--use-file-for-fake-video-capture=${opts.clip}`);

const log = (...a) => console.error('[run.mjs]', ...a);

async function apiCall(meeting, token, method, route) {
  const res = await fetch(`${opts.base}/api/meetings/${meeting}/${route}`, {
    method,
    headers: { Authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(10000),
  });
  return res.status;
}

const browser = await chromium.launch({
  executablePath: opts.chromium || '/usr/bin/chromium',
  headless: true,
  args,
  timeout: 30000,
});
const report = { pages: {} };
try {
  // A meeting where Together Mode runs with nobody's video: the empty scene, for comparison.
  if (opts.empty) {
    report.emptyJoin = await apiCall(opts.empty.meeting, opts.empty.token, 'POST', 'join');
    report.emptyStart = await apiCall(opts.empty.meeting, opts.empty.token, 'POST',
      'togetherMode/start');
  }
  // An unauthenticated WHIP offer is refused before any media.
  const anon = await fetch(`${opts.base}/whip/${opts.meeting}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp' },
    body: 'v=0\r\n',
    signal: AbortSignal.timeout(10000),
  });
  report.anonymousWhip = { status: anon.status, body: await anon.json().catch(() => null) };

  const who = { organizer: `${opts.organizer}&start=1`, attendee: opts.attendee };
  const pages = {};
  for (const [name, token] of Object.entries(who)) {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.on('console', (m) => log(name, m.type(), m.text()));
    page.on('pageerror', (e) => log(name, 'pageerror', e.message));
    await page.goto(`${opts.base}/?meeting=${opts.meeting}&token=${token}`, { timeout: left() });
    pages[name] = page;
  }

  // Both pages: published, viewing, the video playing, one box per seated participant.
  for (const [name, page] of Object.entries(pages)) {
    try {
      await page.waitForFunction(() => {
        const s = window.together && window.together.state;
        const v = document.getElementById('room');
        return s && s.published && s.viewing && v.videoWidth > 0 && !v.paused
          && Object.keys(s.seatingMap).length >= 2
          && document.querySelectorAll('#overlay .seat').length >= 2;
      }, null, { timeout: left(), polling: 200 });
    } catch (e) {
      report.pages[name] = await page.evaluate(() => window.together && window.together.state)
        .catch(() => null);
      throw new Error(`${name}: the page did not show the room with two seats: ${e.message}`);
    }
  }
  // Let the participants' frames reach the seats (cut out, a few frames of footage).
  await new Promise((r) => setTimeout(r, Math.min(3000, left())));

  for (const [name, page] of Object.entries(pages)) {
    report.pages[name] = await page.evaluate(() => {
      const s = window.together.state;
      const v = document.getElementById('room');
      const overlay = document.getElementById('overlay').getBoundingClientRect();
      const boxes = [...document.querySelectorAll('#overlay .seat')].map((b) => {
        const r = b.getBoundingClientRect();
        return {
          participant: b.dataset.participant,
          name: b.textContent,
          left: r.left - overlay.left,
          top: r.top - overlay.top,
          width: r.width,
          height: r.height,
        };
      });
      // Luma (BT.601, full range) of the decoded video on a grid every 4 video pixels.
      const f = window.together.grab();
      const step = 4;
      const luma = [];
      for (let y = 0; y < f.height; y += step) {
        for (let x = 0; x < f.width; x += step) {
          const i = (y * f.width + x) * 4;
          luma.push(Math.round(0.299 * f.data[i] + 0.587 * f.data[i + 1] + 0.114 * f.data[i + 2]));
        }
      }
      return {
        me: s.me,
        room: s.room,
        published: s.published,
        viewing: s.viewing,
        errors: s.errors,
        sceneSize: s.sceneSize,
        seatingMap: s.seatingMap,
        streams: s.streams,
        overlay: { width: overlay.width, height: overlay.height },
        boxes,
        video: { width: v.videoWidth, height: v.videoHeight, paused: v.paused,
          currentTime: v.currentTime },
        luma: { step, width: f.width, height: f.height, data: luma },
      };
    });
  }

  // A refused operation shows its code: the attendee's page asks to start Together Mode (its
  // Start button is hidden for the role; the server refuses anyway).
  report.refused = await pages.attendee.evaluate(async () => {
    document.getElementById('start').click();
    const t0 = Date.now();
    while (!window.together.state.errors.length && Date.now() - t0 < 5000) {
      await new Promise((r) => setTimeout(r, 50));
    }
    return document.getElementById('status').textContent;
  });

  // How much of the room's recording was written by now: the test reads the frame there.
  if (opts.recording) report.recordedBytes = statSync(opts.recording).size;

  // Leave: the page DELETEs its WHIP and WHEP resources.
  for (const page of Object.values(pages)) {
    await page.evaluate(() => window.together.leave());
  }
  report.left = true;
} catch (e) {
  report.error = String(e && e.message ? e.message : e);
} finally {
  await browser.close();
}
process.stdout.write(`${JSON.stringify(report)}\n`);
// Not process.exit(): it would cut a long report short in the pipe.
process.exitCode = report.error ? 1 : 0;
