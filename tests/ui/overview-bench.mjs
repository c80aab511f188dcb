// The overview page's time to show its figures (tests/bench/overview.rs
// runs this against a host on a large queue, DASH_BASE, no token): each
// sample is a fresh page load, from navigation start to the moment the
// figures hold numbers. Prints the samples in milliseconds.
import { chromium } from 'playwright-core';

const base = process.env.DASH_BASE;
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  headless: true,
  args: ['--no-sandbox', '--disable-gpu'],
});
const page = await browser.newPage();
await page.goto(base + '/ui/');
await page.locator('[data-figure=ready]').filter({ hasNotText: '–' }).waitFor();
const samples = [];
for (let i = 0; i < 10; i += 1) {
  await page.goto(base + '/ui/?sample=' + i);
  await page.waitForFunction(() => {
    const el = document.querySelector('[data-figure=ready]');
    return el && el.textContent !== '–';
  }, null, { polling: 'raf' });
  samples.push(await page.evaluate(() => performance.now()));
}
await browser.close();
console.log(samples.map((ms) => ms.toFixed(1)).join(' '));
