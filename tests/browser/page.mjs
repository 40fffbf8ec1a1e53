// Drives the real page in Debian's Chromium (never a downloaded browser) and prints one JSON line per
// step for tests/server/test_web.py. Usage: node page.mjs BASE_URL OUT_DIR
// Between "restart" steps it waits for a line on standard input (the test restarts the server).
import { chromium } from "playwright-core";
import { createInterface } from "node:readline";
import { readFileSync } from "node:fs";

const [base, out] = process.argv.slice(2);
const lines = createInterface({ input: process.stdin });
const nextLine = () => new Promise((resolve) => lines.once("line", resolve));
const report = (step, data) => console.log(JSON.stringify({ step, ...data }));

const browser = await chromium.launch({
  executablePath: "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"],
});
try {
  const context = await browser.newContext({ viewport: { width: 1000, height: 700 }, acceptDownloads: true });
  const page = await context.newPage();
  page.setDefaultTimeout(60000);
  await page.goto(base + "/");
  await page.waitForSelector(".status.open");
  report("loaded", { status: await page.textContent("#status"),
                     sources: await page.$$eval("#source option", (o) => o.map((x) => x.value)) });

  // Typing: a partial with a dimmed unstable tail at some point while typing (which words agree from one
  // prefix's translation to the next is the model's), then the final.
  const tail = page.waitForFunction(() => {
    const el = document.querySelector("#transcript li.open .unstable:not(:empty)");
    return el ? getComputedStyle(el).opacity : null;
  }, null, { polling: "raf" });
  await page.type("#text", "A man is riding a bicycle down the street", { delay: 80 });
  const opacity = await (await tail).jsonValue();
  await page.screenshot({ path: `${out}/page-typing.png` });
  await page.waitForTimeout(1500);  // stopping to think: longer than the server's pause cut (1000 ms)
  const finalsBeforeEnter = await page.$$eval("#transcript li.final", (e) => e.length);
  await page.keyboard.press("Enter");
  await page.waitForSelector("#transcript li.final");
  report("typed", {
    unstable_opacity: Number(opacity),
    finals_before_enter: finalsBeforeEnter,
    final: await page.textContent("#transcript li.final .translation"),
    latency: await page.textContent("#transcript li.final .latency"),
  });

  // Pasting a paragraph: it flows into one final per sentence.
  await page.fill("#text", "Two dogs are playing in the snow. A woman is reading a book. Where is the train station?");
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#transcript li.final").length >= 4);
  report("pasted", { finals: await page.$$eval("#transcript li.final .source", (e) => e.map((x) => x.textContent)) });

  // A lost connection (reset, no close frame) in the middle of a sentence: the page resumes the same
  // stream, sends what the server did not get, and the sentence ends once, under its own segment number.
  await page.type("#text", "A cat is sleeping on the", { delay: 20 });
  await page.waitForFunction(() => [...document.querySelectorAll("#transcript li.open .source")]
    .some((e) => e.textContent.startsWith("A cat is sleeping")));
  const before = await page.evaluate(() => ({ token: window.translatorPage.token, epoch: window.translatorPage.epoch }));
  report("drop", {});
  await nextLine();  // the test has reset the page's connections
  await page.type("#text", " sofa", { delay: 20 });  // typed while the page reconnects
  await page.waitForFunction(() => window.translatorPage.resumes >= 1 && window.translatorPage.connected);
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#transcript li.final").length >= 5);
  await page.waitForTimeout(500);
  report("resumed", {
    finals: await page.$$eval("#transcript li.final .source", (e) => e.map((x) => x.textContent)),
    segments: await page.evaluate(() => [...window.translatorPage.entries.keys()]),
    same_token: before.token === (await page.evaluate(() => window.translatorPage.token)),
    same_epoch: before.epoch === (await page.evaluate(() => window.translatorPage.epoch)),
  });

  // Reconnect after the server restarts; the open text is not lost and no final repeats.
  await page.type("#text", "The children are eating ice cream", { delay: 20 });
  report("restart", {});
  await nextLine();  // the test has stopped the server
  await page.waitForSelector(".status.closed");
  report("restart-wait", { status: await page.textContent("#status") });
  await nextLine();  // the server is back
  await page.waitForSelector(".status.open", { timeout: 90000 });
  await page.keyboard.press("Enter");
  await page.waitForFunction(() => document.querySelectorAll("#transcript li.final").length >= 6);
  await page.waitForTimeout(1000);
  report("reconnected", {
    finals: await page.$$eval("#transcript li.final .source", (e) => e.map((x) => x.textContent)),
    open_entries: await page.$$eval("#transcript li.open", (e) => e.length),
  });
  await page.screenshot({ path: `${out}/page.png` });

  // WebVTT download.
  const [download] = await Promise.all([page.waitForEvent("download"), page.click("#vtt")]);
  const path = `${out}/captions.vtt`;
  await download.saveAs(path);
  report("vtt", { name: download.suggestedFilename(), text: readFileSync(path, "utf8") });

  // Overlay fed by a named session; the page speaks into that session.
  const overlay = await context.newPage();
  await overlay.goto(`${base}/overlay?session=demo&source=en&target=de&size=44&lines=2`);
  await overlay.waitForTimeout(500);
  await page.evaluate((url) => new Promise((resolve) => {
    const ws = new WebSocket(url);
    ws.onmessage = (e) => { if (JSON.parse(e.data).type === "final") resolve(); };
    ws.onopen = () => {
      ws.send(JSON.stringify({ type: "append", text: "Good evening and welcome to the show." }));
      ws.send(JSON.stringify({ type: "commit" }));
    };
  }), base.replace("http", "ws") + "/v1/stream?source=en&target=de&session=demo");
  await overlay.waitForFunction(() => document.querySelector("#captions").textContent.trim().length > 0);
  await overlay.screenshot({ path: `${out}/overlay.png`, omitBackground: true });
  report("overlay", {
    text: await overlay.textContent("#captions"),
    background: await overlay.evaluate(() => getComputedStyle(document.body).backgroundColor),
    font_size: await overlay.evaluate(() => getComputedStyle(document.querySelector("#captions")).fontSize),
  });
} finally {
  await browser.close();
  lines.close();
}
