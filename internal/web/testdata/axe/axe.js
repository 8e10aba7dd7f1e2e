// Runs axe-core's WCAG 2 A and AA rules on pages in Debian's Chromium and
// prints, as JSON on stdout, each page's violations (an empty list when
// there are none). Test-only: internal/web/axe_test.go runs it.
//
//   node axe.js CHROMIUM SCREENSHOT.png|'' URL...
//
// The screenshot, when asked for, is of the first page.
'use strict';
const fs = require('fs');
const path = require('path');
const puppeteer = require('puppeteer-core');

async function check(browser, url, screenshot) {
  const page = await browser.newPage();
  try {
    await page.setViewport({ width: 1280, height: 900 });
    // The pages' CSP allows their own script only, so axe is added over
    // the DevTools protocol rather than by a <script> element.
    await page.setBypassCSP(true);
    await page.goto(url, { waitUntil: 'load' });
    const src = fs.readFileSync(path.join(path.dirname(require.resolve('axe-core')), 'axe.min.js'), 'utf8');
    await page.evaluate(src);
    const result = await page.evaluate(() => window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa'] },
      resultTypes: ['violations'],
    }));
    if (screenshot) {
      await page.screenshot({ path: screenshot, fullPage: true });
    }
    return {
      url,
      violations: result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target.join(' '), summary: n.failureSummary })),
      })),
      passes: result.passes ? result.passes.length : 0,
    };
  } finally {
    await page.close();
  }
}

async function main() {
  const [chromium, screenshot, ...urls] = process.argv.slice(2);
  if (!chromium || urls.length === 0) {
    throw new Error("usage: node axe.js CHROMIUM SCREENSHOT.png|'' URL...");
  }
  const browser = await puppeteer.launch({
    executablePath: chromium,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  try {
    const pages = [];
    for (const [i, url] of urls.entries()) {
      pages.push(await check(browser, url, i === 0 ? screenshot : ''));
    }
    process.stdout.write(JSON.stringify({ pages }) + '\n');
  } finally {
    await browser.close();
  }
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack || err) + '\n');
  process.exit(2);
});
