// Browser end-to-end tests of the review pages: the real team server (release build) with its
// demo team, Debian's Chromium driven by playwright-core, axe-core on every page, a real phone
// (the core, `server/examples/phone.rs`) answering a lead's question, GDAL reading the export.
//
// Run by scripts/test.sh; on its own: `node tests/browser/run.mjs` after building
// `target/release/wijkverkenner-server` and the `phone` example. Screenshots and the server's
// log go to target/browser-artifacts/. Prints `browser: N passed, N failed` last.

import { spawn, execFileSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const bin = process.env.WV_SERVER_BIN || join(root, "target/release/wijkverkenner-server");
const phoneBin = process.env.WV_PHONE_BIN || join(root, "target/release/examples/phone");
const chromiumPath = process.env.WV_CHROMIUM || "/usr/bin/chromium";
const artefacts = join(root, "target/browser-artifacts");
mkdirSync(artefacts, { recursive: true });
const axeSource = readFileSync(join(here, "node_modules/axe-core/axe.min.js"), "utf8");

// ---------------------------------------------------------------------------------------------
// Helpers

function totp(secretB32, stepsAhead = 0) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of secretB32.replace(/=+$/, "")) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const step = Math.floor(Date.now() / 30000) + stepsAhead;
  const msg = Buffer.alloc(8);
  msg.writeBigUInt64BE(BigInt(step));
  const h = createHmac("sha1", key).update(msg).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1000000).padStart(6, "0");
}

function check(condition, message) {
  if (!condition) throw new Error(message);
}

const dataDir = mkdtempSync(join(tmpdir(), "wv-browser-"));
function admin(...args) {
  return execFileSync(bin, ["--data", dataDir, ...args], { encoding: "utf8" }).trim();
}
function phone(...args) {
  return execFileSync(phoneBin, [join(dataDir, "test-phone"), ...args], { encoding: "utf8" }).trim();
}

/// Starts the server with its demo team; resolves with the URL and the demo sign-in.
function startServer() {
  const port = 20000 + Math.floor(Math.random() * 20000);
  const server = spawn(bin, [
    "--data", dataDir, "serve", "--listen", `127.0.0.1:${port}`, "--insecure-cookies", "--demo",
    "--buurten", join(root, "data/utrecht/buurt.geojson"), "--wijken", join(root, "data/utrecht/wijk.geojson"),
  ], { stdio: ["ignore", "pipe", "pipe"] });
  let log = "";
  server.stderr.on("data", (d) => { log += d; });
  return new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("no demo team within 60 s:\n" + out + log)), 60000);
    server.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/Open (\S+)\/ and sign in:\s+user name\s+(\S+)\s+password\s+(\S+)\s+TOTP key\s+(\S+).*\s+team\s+(\S+)/s);
      if (m) {
        clearTimeout(timer);
        resolve({ server, url: m[1], login: m[2], password: m[3], secret: m[4], team: m[5], log: () => log });
      }
    });
    server.on("exit", (code) => reject(new Error(`the server exited (${code}):\n${out}${log}`)));
  });
}

const violations = [];
/// Runs axe-core on the page (WCAG 2.1 A and AA rules); serious and critical violations fail.
async function axe(page, name) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() =>
    // eslint-disable-next-line no-undef
    axe.run(document, { runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] } }));
  const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  for (const v of bad) violations.push(`${name}: ${v.id} (${v.impact}) ${v.nodes.map((n) => n.target.join(" ")).join(", ")}`);
  check(bad.length === 0, `accessibility on ${name}: ${bad.map((v) => v.id).join(", ")}`);
  return result.violations.length;
}

async function shot(page, name) {
  await page.screenshot({ path: join(artefacts, `${name}.png`), fullPage: true });
}

// ---------------------------------------------------------------------------------------------
// The tests, in order (each builds on the ones before, as a lead's Monday morning does).

const demo = await startServer();
const browser = await chromium.launch({ executablePath: chromiumPath, args: ["--no-sandbox", "--disable-gpu"] });
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const cspErrors = [];
page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) cspErrors.push(m.text()); });
page.on("pageerror", (e) => cspErrors.push(`page error: ${e.message}`));
const state = {};

const tests = [
  ["signing in needs the second factor", async () => {
    await page.goto(demo.url + "/");
    check(page.url().endsWith("/sign-in"), `signed out, / goes to the sign-in page, not ${page.url()}`);
    await axe(page, "sign-in");
    await page.fill("#login", demo.login);
    await page.fill("#password", demo.password);
    await page.fill("#code", totp(demo.secret) === "000000" ? "111111" : "000000");
    await page.click("main button[type=submit]");
    await page.waitForSelector("#failed");
    check(page.url().endsWith("/sign-in"), "a wrong code does not sign in");
    await shot(page, "01-sign-in-refused");
    await page.fill("#login", demo.login);
    await page.fill("#password", demo.password);
    await page.fill("#code", totp(demo.secret));
    await page.click("main button[type=submit]");
    await page.waitForURL("**/dashboard");
  }],
  ["the dashboard lists the demo walks and the signals needing attention", async () => {
    const walks = await page.locator("#walks tbody tr").count();
    check(walks === 3, `three demo walks, not ${walks}`);
    const attention = await page.locator("#attention tbody tr").count();
    check(attention >= 3, `signals needing attention: ${attention}`);
    await axe(page, "dashboard");
    await shot(page, "02-dashboard");
  }],
  ["a synced walk shows on a real map with every feature", async () => {
    // Sanne's walk: the one with the most records.
    const rows = page.locator("#walks tbody tr");
    let best = null, most = -1;
    for (let i = 0; i < await rows.count(); i++) {
      const n = Number(await rows.nth(i).locator("td").nth(7).innerText());
      if (n > most) { most = n; best = await rows.nth(i).locator("a").getAttribute("href"); }
    }
    state.walk = best;
    await page.goto(demo.url + best);
    await page.waitForSelector("#map[data-drawn]");
    const drawn = await page.getAttribute("#map", "data-drawn");
    const geo = await (await page.request.get(demo.url + best + "/export.geojson")).json();
    check(Number(drawn) === geo.features.length, `map drew ${drawn} of ${geo.features.length} features`);
    const paths = await page.locator("#map path.wv-feature").count();
    check(paths === geo.features.length, `${paths} feature shapes on the map, ${geo.features.length} in the data`);
    check(geo.features.length === most + 1, `the track and ${most} records: ${geo.features.length}`);
    const buurten = await page.locator("#map path.wv-buurt").count();
    check(buurten > 100, `the buurt boundaries under the walk (${buurten})`);
    const debrief = await page.innerText("#debrief");
    check(debrief.includes("situationeel"), `the walker's look back is in the report: ${debrief}`);
    await axe(page, "walk report");
    await shot(page, "03-walk-report");
  }],
  ["the walk's photo shows as a thumbnail in the timeline and on the map, whole on click", async () => {
    await page.goto(demo.url + state.walk);
    await page.waitForSelector("#map[data-drawn]");
    const thumbs = page.locator("#timeline img.thumb");
    check(await thumbs.count() === 1, `one thumbnail in the timeline: ${await thumbs.count()}`);
    const size = async (img) => img.evaluate(async (i) => {
      if (!i.complete) await new Promise((r) => { i.onload = r; i.onerror = r; });
      return [i.naturalWidth, i.naturalHeight];
    });
    const [tw, th] = await size(thumbs.first());
    check(Math.max(tw, th) === 320, `a 320-pixel thumbnail, not ${tw}×${th}`);
    check((await thumbs.first().getAttribute("alt")).length > 0, "the thumbnail says what it is");
    // The map: the observation's marker shows the same thumbnail in its tooltip.
    const markers = page.locator("#map path.wv-observation");
    let shown = false;
    for (let i = 0; i < await markers.count() && !shown; i++) {
      await markers.nth(i).hover({ force: true });
      const inTip = page.locator(".leaflet-tooltip img.thumb");
      if (await inTip.count() > 0) {
        const [mw] = await size(inTip.first());
        shown = mw > 0;
      }
    }
    check(shown, "a marker's tooltip shows the photo's thumbnail");
    await shot(page, "03b-walk-photo-tooltip");
    // A click on the thumbnail opens the whole photo.
    const [response] = await Promise.all([page.waitForNavigation(), thumbs.first().click()]);
    check(/\/photos\/[0-9a-f-]{36}$/.test(new URL(page.url()).pathname), `the photo's own address: ${page.url()}`);
    check(response.headers()["content-type"] === "image/jpeg", `a JPEG: ${response.headers()["content-type"]}`);
    const [fw, fh] = await size(page.locator("img").first());
    check(fw === 1024 && fh === 768, `the whole photo, not ${fw}×${fh}`);
    const bytes = await response.body();
    check(!bytes.includes(Buffer.from("Exif")), "no EXIF in what the lead sees");
    await page.goBack();
    // The record's own page shows it too, and passes the accessibility checks.
    const row = page.locator("#timeline tr", { has: page.locator("img.thumb") }).locator("a").first();
    await row.click();
    await page.waitForSelector("#photos img.thumb");
    const [rw] = await size(page.locator("#photos img.thumb").first());
    check(rw > 0, "the record's page shows the photo");
    await axe(page, "record with photo");
    await shot(page, "03c-record-photo");
    await page.goto(demo.url + state.walk);
  }],
  ["a signal is triaged through referral with a comment at each step", async () => {
    const link = page.locator("#timeline tr.k-signal a").first();
    await link.click();
    await page.waitForSelector("#triage");
    state.signalUrl = new URL(page.url()).pathname;
    await axe(page, "signal");
    const status = await page.innerText("#status");
    check(status === "nieuw" || status === "in behandeling", `the signal starts new or in review: ${status}`);
    if (status === "nieuw") {
      await page.selectOption("#next", "in_review");
      await page.fill("#triage-comment", "Eerst navragen bij de wijkagent");
      await page.click("#apply");
      await page.waitForSelector(".notice");
      check(await page.innerText("#status") === "in behandeling", "in review");
    }
    await page.selectOption("#next", "referred");
    await page.selectOption("#referral", "ref.police");
    await page.fill("#triage-comment", "Gemeld bij de wijkagent");
    await page.click("#apply");
    await page.waitForSelector(".notice");
    check(await page.innerText("#status") === "doorverwezen", "referred");
    const history = await page.innerText("#history");
    check(history.includes("doorverwezen") && history.includes("Politie") && history.includes("Gemeld bij de wijkagent"),
      `the history shows who did what: ${history}`);
    await shot(page, "04-signal-referred");
  }],
  ["the police partner sees the referred signal and nothing of who reported it", async () => {
    const agentId = admin("member-add", "--team", demo.team, "--name", "Wijkagent Overvecht", "--role", "partner",
      "--referral", "ref.police", "--organisation", "Politie Utrecht");
    const link = admin("web-setup", "--member", agentId, "--login", "wijkagent", "--server-url", demo.url).split("\n").pop();
    const context = await browser.newContext();
    const p = await context.newPage();
    await p.goto(link);
    const secret = await p.innerText("#secret");
    await p.fill("#password", "een lange zin voor het politiebureau");
    await p.fill("#password_again", "een lange zin voor het politiebureau");
    await p.fill("#code", totp(secret));
    await p.click("main button[type=submit]");
    await p.waitForURL("**/sign-in?done=1");
    await p.fill("#login", "wijkagent");
    await p.fill("#password", "een lange zin voor het politiebureau");
    await p.fill("#code", totp(secret, 1));
    await p.click("main button[type=submit]");
    await p.waitForURL("**/referrals");
    await axe(p, "referrals");
    const id = state.signalUrl.split("/").pop();
    const row = p.locator(`#referrals a[href="/referrals/${id}"]`);
    check(await row.count() === 1, "the referred signal is on the partner's list");
    check(await p.locator("#referrals tbody tr").count() === 1, "and nothing else");
    await shot(p, "04b-partner-referrals");
    await row.click();
    await p.waitForSelector("#content");
    await axe(p, "referral");
    await shot(p, "04c-partner-referral");
    const text = await p.innerText("main");
    for (const name of ["Sanne", "Joost", "Fatima"]) {
      check(!text.includes(name), `the partner's page names no walker (${name})`);
    }
    check(/52\.\d{5}, 5\.\d{5}/.test(await p.innerText("#place")), "the place to act on");
    const walk = await p.goto(demo.url + state.walk);
    check(walk.status() === 403, `a partner opens no walk report (${walk.status()})`);
    const lead = await p.goto(demo.url + state.signalUrl);
    check(lead.status() === 403, `nor the lead's page of the signal (${lead.status()})`);
    await p.click('form[action="/sign-out"] button');
    await p.waitForURL("**/sign-in");
    await context.close();
  }],
  ["a question reaches the author's phone and the answer comes back", async () => {
    // A new phone of the walk's author, enrolled with a code from the admin command line.
    const members = admin("members", "--team", demo.team);
    const sanne = members.split("\n").find((l) => l.includes("Sanne")).split("\t")[0];
    const code = admin("enrol-code", "--member", sanne);
    phone("enrol", demo.url, code);
    phone("sync", demo.url);
    await page.goto(demo.url + state.walk);
    const record = await page.locator("#timeline tr.k-observation a").first().getAttribute("href");
    await page.goto(demo.url + record);
    await page.fill("#question", "Welk pand bedoel je precies?");
    await page.click("#ask");
    await page.waitForSelector(".notice");
    const id = record.split("/").pop();
    phone("sync", demo.url);
    const question = phone("question", id);
    check(question === "Welk pand bedoel je precies?", `the phone has the question: "${question}"`);
    phone("answer", demo.url, id, "Het hoekpand naast de bakkerij, nummer 12.");
    await page.reload();
    const answer = await page.innerText("#answer");
    check(answer.includes("Het hoekpand naast de bakkerij"), `the answer is on the page: ${answer}`);
    await axe(page, "record with answer");
    await shot(page, "05-answer");
  }],
  ["the area view colours the buurten and counts per category", async () => {
    await page.goto(demo.url + "/area?period=all");
    await page.waitForSelector("#area-map[data-drawn]");
    const drawn = await page.getAttribute("#area-map", "data-drawn");
    check(Number(drawn) >= 3, `buurten with records: ${drawn}`);
    const shaded = await page.locator("#area-map path.wv-buurt:not(.wv-shade-0)").count();
    check(shaded === Number(drawn), `${shaded} buurten shaded, ${drawn} with records`);
    await axe(page, "area");
    await page.locator("#area tbody a").first().click();
    await page.waitForSelector("#categories");
    check(await page.locator("#categories tbody tr").count() >= 1, "counts per category for the chosen buurt");
    await shot(page, "06-area");
  }],
  ["the signals list filters by status", async () => {
    await page.goto(demo.url + "/signals?status=referred");
    check(await page.locator("#signals tbody tr").count() === 1, "one referred signal");
    await axe(page, "signals");
  }],
  ["the export opens in GDAL with the right features", async () => {
    const res = await page.request.get(demo.url + state.walk + "/export.geojson");
    const file = join(artefacts, "walk.geojson");
    writeFileSync(file, await res.body());
    const info = execFileSync("ogrinfo", ["-ro", "-al", file], { encoding: "utf8" });
    const count = Number((info.match(/Feature Count: (\d+)/) || [])[1]);
    const geo = JSON.parse(readFileSync(file, "utf8"));
    check(count === geo.features.length, `GDAL reads ${count} features of ${geo.features.length}`);
    const points = (info.match(/^\s*POINT \(/gm) || []).length;
    const lines = (info.match(/^\s*LINESTRING \(/gm) || []).length;
    check(lines === 1 && points === count - 1, `one track and the records as points: ${lines} lines, ${points} points`);
    const csv = await (await page.request.get(demo.url + state.walk + "/export.csv")).text();
    check(csv.split("\r\n").filter((l) => l).length === count, "a CSV row per record and a header");
  }],
  ["the pages read in English too", async () => {
    await page.click("text=English");
    await page.waitForSelector("html[lang=en]");
    await page.goto(demo.url + "/dashboard");
    check((await page.innerText("h1")) === "Dashboard", "English headings");
    await axe(page, "dashboard (en)");
    await page.goto(demo.url + "/lang/nl");
  }],
  ["the pages fit a tablet held upright", async () => {
    await page.setViewportSize({ width: 768, height: 1024 });
    for (const path of ["/dashboard", state.walk, state.signalUrl, "/signals", "/area?period=all"]) {
      await page.goto(demo.url + path);
      const [scroll, width] = await page.evaluate(() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]);
      check(scroll <= width, `${path} scrolls sideways on a tablet: ${scroll} > ${width}`);
    }
    await shot(page, "07-walk-report-tablet");
    await page.setViewportSize({ width: 1280, height: 900 });
  }],
  ["an administrator sets up her account and ends a lead's session", async () => {
    const adminId = admin("member-add", "--team", demo.team, "--name", "Beheerder", "--role", "admin");
    const link = admin("web-setup", "--member", adminId, "--login", "beheer", "--server-url", demo.url).split("\n").pop();
    const adminContext = await browser.newContext();
    const a = await adminContext.newPage();
    await a.goto(link);
    await axe(a, "set-up");
    const secret = await a.innerText("#secret");
    await a.fill("#password", "een lange zin voor de ICT-afdeling");
    await a.fill("#password_again", "een lange zin voor de ICT-afdeling");
    await a.fill("#code", totp(secret));
    await a.click("main button[type=submit]");
    await a.waitForURL("**/sign-in?done=1");
    await a.fill("#login", "beheer");
    await a.fill("#password", "een lange zin voor de ICT-afdeling");
    await a.fill("#code", totp(secret, 1));
    await a.click("main button[type=submit]");
    await a.waitForURL("**/sessions");
    await axe(a, "sessions");
    await shot(a, "07-sessions");
    const forbidden = await a.goto(demo.url + "/dashboard");
    check(forbidden.status() === 403, "an administrator sees no content");
    await a.goto(demo.url + "/sessions");
    const lead = a.locator("#sessions tbody tr", { hasNotText: "Beheerder" }).first();
    await lead.locator("button").click();
    await a.waitForURL("**/sessions");
    await page.goto(demo.url + "/dashboard");
    check(page.url().endsWith("/sign-in"), "the lead's session was ended");
    state.admin = { context: adminContext, page: a };
  }],
  ["an administrator changes the team's settings and a phone takes them", async () => {
    const a = state.admin.page;
    await a.click("nav >> text=Instellingen");
    await a.waitForURL("**/settings");
    await axe(a, "settings");
    // A new signal category, sensitive from the start.
    const add = a.locator("details.add", { hasText: "Signaalcategorieën" });
    await add.locator("summary").click();
    await add.locator("input[name=nl]").fill("Illegale gokhal");
    await add.locator("input[name=en]").fill("Illegal gambling den");
    await add.locator("button[type=submit]").click();
    await a.waitForSelector(".notice");
    check(await a.locator("code", { hasText: "sig.illegale_gokhal" }).count() === 1, "the new code is listed");
    // Office hours from nine on weekdays but Wednesday.
    await a.uncheck("input[name=day3]");
    await a.fill("#oh-start", "09:00");
    await a.click("#office-hours-form button[type=submit]");
    await a.waitForSelector(".notice");
    // A bad boundaries file is refused with the rule it breaks, nothing changes.
    const bad = join(artefacts, "bad-buurten.geojson");
    writeFileSync(bad, JSON.stringify({ type: "FeatureCollection", features: [{ type: "Feature", properties: {}, geometry: { type: "Point", coordinates: [5.1, 52.1] } }] }));
    await a.setInputFiles("#b-buurten", bad);
    await a.click("#boundaries-form button[type=submit]");
    await a.waitForSelector("#settings-error");
    const error = await a.innerText("#settings-error");
    check(/Polygon/.test(error), `the error names the rule: ${error}`);
    await axe(a, "settings with an error");
    await shot(a, "08-settings-refused");
    await a.setInputFiles("#b-buurten", join(root, "data/utrecht/buurt.geojson"));
    await a.setInputFiles("#b-wijken", join(root, "data/utrecht/wijk.geojson"));
    await a.click("#boundaries-form button[type=submit]");
    await a.waitForSelector(".notice");
    check((await a.innerText("#boundaries-state")).startsWith("111 buurten"), "the team's own boundaries");
    await shot(a, "09-settings");
    // The phone takes all of it at its next sync.
    phone("sync", demo.url);
    const category = phone("category", "sig.illegale_gokhal");
    check(category.includes("Illegale gokhal") && category.includes("sensitive=true"), `the phone has it: ${category}`);
    check(phone("office-hours") === "[1, 2, 4, 5] 09:00-17:00", `the phone's office hours: ${phone("office-hours")}`);
    await state.admin.context.close();
  }],
  ["keyboard: the skip link comes first and reaches the content", async () => {
    await page.goto(demo.url + "/sign-in");
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => document.activeElement && document.activeElement.className);
    check(focused === "skip", `the first Tab stop is the skip link, not ${focused}`);
    // Then the header's links (home, language), then the form's first field.
    const stops = [];
    for (let i = 0; i < 4; i++) {
      await page.keyboard.press("Tab");
      stops.push(await page.evaluate(() => document.activeElement && (document.activeElement.id || document.activeElement.textContent)));
    }
    check(stops[2] === "login" && stops[3] === "password", `then the form: ${stops.join(" → ")}`);
    await page.keyboard.type("x");
    check(await page.inputValue("#password") === "x", "typing reaches the focused field");
  }],
  ["no page broke its Content-Security-Policy or threw", async () => {
    check(cspErrors.length === 0, cspErrors.join("\n"));
  }],
];

let passed = 0, failed = 0;
for (const [name, test] of tests) {
  try {
    await test();
    passed++;
    console.log(`ok - ${name}`);
  } catch (e) {
    failed++;
    console.log(`not ok - ${name}\n  ${String(e && e.stack || e).split("\n").join("\n  ")}`);
    await shot(page, `failed-${passed + failed}`).catch(() => {});
  }
}
await browser.close();
demo.server.kill();
writeFileSync(join(artefacts, "server.log"), demo.log());
if (violations.length) console.log(violations.join("\n"));
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
