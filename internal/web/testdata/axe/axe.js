// Runs axe-core's WCAG 2 A and AA rules on a page in Debian's Chromium and
// prints the violations as JSON on stdout (an empty list when there are
// none). Test-only: internal/web/axe_test.go runs it.
//
//   node axe.js URL CHROMIUM [SCREENSHOT.png]
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

async function main() {
  const [url, chromium, screenshot] = process.argv.slice(2);
  if (!url || !chromium) {
    throw new Error('usage: node axe.js URL CHROMIUM [SCREENSHOT.png]');
  }
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1280, height: 900 });
    await page.goto(url, { waitUntil: 'load' });
    // The page's CSP allows its own script only, so axe is added over the
    // DevTools protocol rather than by a <script> element.
    await page.setBypassCSP(true);
    await page.reload({ waitUntil: 'load' });
    const src = fs.readFileSync(path.join(path.dirname(require.resolve('axe-core')), 'axe.min.js'), 'utf8');
    await page.evaluate(src);
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
      resultTypes: ['violations'],
    }));
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    const out = result.violations.map((v) => ({
      id: v.id,
      impact: v.impact,
      help: v.help,
      nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
    }));
    process.stdout.write(JSON.stringify({ violations: out, passes: result.passes ? result.passes.length : 0 }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(2);
});
