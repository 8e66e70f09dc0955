// Checks pages with axe-core in headless Chromium, as an accessibility audit would, and prints
// the violations per page as JSON: {url: [{id, impact, help, nodes: [{target, summary}]}]}.
// Only the rules of WCAG 2.1 A and AA and axe's best practices (landmarks, heading order)
// run. The pages' own Content-Security-Policy forbids scripts; the audit's is let in.
// Usage: node check_pages.mjs CHROMIUM URL...
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"];
const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const [executablePath, ...urls] = process.argv.slice(2);

const browser = await chromium.launch({
  executablePath,
  args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
});
const found = {};
try {
  const context = await browser.newContext({ bypassCSP: true, locale: "sv-SE" });
  const page = await context.newPage();
  for (const url of urls) {
    const response = await page.goto(url, { waitUntil: "load" });
    if (!response || !response.ok()) {
      throw new Error(`${url}: ${response ? response.status() : "no answer"}`);
    }
    await page.addScriptTag({ content: axeSource });
    found[url] = await page.evaluate(async (tags) => {
      const result = await window.axe.run(document, { runOnly: { type: "tag", values: tags } });
      return result.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => ({ target: n.target, summary: n.failureSummary })),
      }));
    }, RULES);
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(found));
