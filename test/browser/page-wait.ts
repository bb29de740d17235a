/**
 * Waits until an in-page expression is truthy. Not page.waitForFunction: that evals the predicate
 * inside the page, which the UI's Content-Security-Policy (no 'unsafe-eval') refuses; evaluate()
 * runs through the DevTools protocol, outside the page's CSP, so the CSP stays on in the suites.
 */
import type { Page } from 'playwright-core';

export async function pageWaitUntil(page: Page, expression: string, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!(await page.evaluate(expression))) {
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for: ${expression}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
