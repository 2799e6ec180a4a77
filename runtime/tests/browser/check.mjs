// Loads a Caxton report page in headless Chromium and prints what it saw
// as one JSON line: the page's text, its tables, whether each chart canvas
// has anything drawn on it, console and page errors, and (for a live
// dashboard) the progress lines shown while the run went on. The Rust test
// (runtime/tests/all/browser.rs) asserts on that; this script only looks.
//
//   node check.mjs report FILE.html SCREENSHOT.png
//   node check.mjs dashboard http://127.0.0.1:PORT/ SCREENSHOT.png
import { chromium } from "playwright-core";
import { pathToFileURL } from "node:url";

const [mode, target, screenshot] = process.argv.slice(2);
if (!["report", "dashboard"].includes(mode) || !target || !screenshot) {
  console.error("usage: node check.mjs report|dashboard FILE|URL SCREENSHOT.png");
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || "/usr/bin/chromium";
const browser = await chromium.launch({
  executablePath,
  headless: true,
  // Playwright gives it a fresh profile; it reaches for nothing on the network.
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update",
    "--disable-sync",
  ],
});
const seen = { console_errors: [], page_errors: [], requests: [], live: [] };
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
  page.on("console", (m) => { if (m.type() === "error") seen.console_errors.push(m.text()); });
  page.on("pageerror", (e) => seen.page_errors.push(String(e)));
  page.on("request", (r) => seen.requests.push(r.url()));
  const url = mode === "report" ? pathToFileURL(target).href : target;
  await page.goto(url, { waitUntil: "load" });
  await page.waitForSelector("body[data-rendered]", { timeout: 15000 });
  seen.rendered_ms = await page.evaluate(() => Number(document.body.dataset.rendered) - performance.timeOrigin);
  if (mode === "dashboard") {
    // Watch the live box until the run says it finished.
    const deadline = Date.now() + 120000;
    for (;;) {
      const box = await page.evaluate(() => {
        const live = document.getElementById("live");
        return live ? { text: live.innerText, done: live.classList.contains("done") } : null;
      });
      if (box && (seen.live.length === 0 || seen.live[seen.live.length - 1] !== box.text)) seen.live.push(box.text);
      if (box && !box.done && !seen.running_screenshot && box.text.includes(" done · ")) {
        // One picture of the run under way, next to the final one.
        seen.running_screenshot = screenshot.replace(/\.png$/, "-running.png");
        await page.screenshot({ path: seen.running_screenshot, fullPage: true });
      }
      if (!box || box.done || Date.now() > deadline) break;
      await page.waitForTimeout(200);
    }
    await page.waitForTimeout(300);
  }
  Object.assign(seen, await page.evaluate(() => {
    const tables = {};
    document.querySelectorAll("h2").forEach((h) => {
      let next = h.nextElementSibling;
      while (next && next.tagName !== "TABLE" && next.tagName !== "H2") next = next.nextElementSibling;
      if (next && next.tagName === "TABLE") {
        tables[h.innerText] = [...next.querySelectorAll("tr")].map((tr) => [...tr.children].map((c) => c.innerText));
      }
    });
    const canvases = [...document.querySelectorAll("canvas")].map((c) => {
      const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
      // Inked: anything drawn (axes and grid too). Series: pixels in the
      // report's first three series colours, so a chart with axes but no
      // lines shows as empty.
      const series = [[9, 105, 218], [207, 34, 46], [26, 127, 55]];
      let inked = 0, lines = 0;
      for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 0) continue;
        inked++;
        if (series.some(([r, g, b]) => Math.abs(data[i] - r) < 24 && Math.abs(data[i + 1] - g) < 24 && Math.abs(data[i + 2] - b) < 24)) lines++;
      }
      return { width: c.width, height: c.height, inked, series: lines };
    });
    return {
      title: document.title,
      headings: [...document.querySelectorAll("h2")].map((h) => h.innerText),
      tables,
      canvases,
      chart_titles: [...document.querySelectorAll(".u-title")].map((t) => t.innerText),
      overlay: [...document.querySelectorAll("#overlay-picker input")].map((i) => ({ label: i.parentElement.innerText.trim(), checked: i.checked })),
      page_error_box: (document.getElementById("page-errors") || {}).innerText || "",
      text: document.body.innerText,
    };
  }));
  await page.screenshot({ path: screenshot, fullPage: true });
} finally {
  await browser.close();
}
console.log(JSON.stringify(seen));
