// The report in headless Chromium (Debian's, driven by playwright-core):
//   node test/report_check.mjs REPORT.html SCREENSHOT.png '{"chart-id": [points per dataset], ...}'
// Loads the file with every request other than the file itself refused
// (it must open without a network), collects console errors and page
// errors, reads each chart back from Chart.js (the points it drew inside
// its plotting area, dataset by dataset), saves a full-page screenshot, and fails when a chart is
// missing, empty or drew another number of points than expected.
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(path.resolve('report/package.json'));
const { chromium } = require('playwright-core');

const [file, shot, expectedJson] = process.argv.slice(2);
const expected = JSON.parse(expectedJson);
const problems = [];
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--no-sandbox'],
});
try {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console error: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  const url = 'file://' + path.resolve(file);
  await page.route('**/*', (route) => {
    if (route.request().url() === url) return route.continue();
    problems.push(`a request the report should not make: ${route.request().url()}`);
    return route.abort();
  });
  await page.goto(url, { waitUntil: 'load' });
  const charts = await page.evaluate(() => Array.from(document.querySelectorAll('canvas')).map((c) => {
    const chart = window.Chart && window.Chart.getChart(c);
    // a point is drawn when its element lies inside the chart's plotting area
    const a = chart && chart.chartArea;
    const inside = (e) => e.x >= a.left - 1 && e.x <= a.right + 1 && e.y >= a.top - 1 && e.y <= a.bottom + 1;
    return {
      id: c.id,
      drawn: chart ? chart.data.datasets.map((_, i) => chart.getDatasetMeta(i).data.filter(inside).length) : null,
      width: c.width,
      height: c.height,
    };
  }));
  await page.screenshot({ path: shot, fullPage: true });
  for (const [id, points] of Object.entries(expected)) {
    const c = charts.find((x) => x.id === id);
    if (!c || c.drawn === null) { problems.push(`${id}: no chart drawn`); continue; }
    if (c.width === 0 || c.height === 0) problems.push(`${id}: a canvas of no size`);
    if (c.drawn.reduce((a, b) => a + b, 0) === 0) problems.push(`${id}: the chart is empty`);
    if (JSON.stringify(c.drawn) !== JSON.stringify(points))
      problems.push(`${id}: drew ${JSON.stringify(c.drawn)} points per dataset, expected ${JSON.stringify(points)}`);
    else console.log(`ok: ${id} drew ${JSON.stringify(c.drawn)} points per dataset`);
  }
  for (const c of charts)
    if (!(c.id in expected)) problems.push(`${c.id}: a chart this check does not know`);
} finally {
  await browser.close();
}
for (const p of problems) console.log(`problem: ${p}`);
process.exit(problems.length ? 1 : 0);
