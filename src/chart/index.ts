/** The node chart's picture, rendered once per format and kept (the API serves it on request). */
import { nodeMachine } from '../machines/node-machine.ts';
import { toDot, toJson, toMermaid, toSvg } from './render.ts';

export type ChartFormat = 'svg' | 'dot' | 'mermaid' | 'json';
export const CHART_FORMATS: readonly ChartFormat[] = ['svg', 'dot', 'mermaid', 'json'];
export const CHART_CONTENT_TYPES: Readonly<Record<ChartFormat, string>> = {
  svg: 'image/svg+xml',
  dot: 'text/vnd.graphviz; charset=utf-8',
  mermaid: 'text/plain; charset=utf-8',
  json: 'application/json; charset=utf-8',
};

const cache = new Map<ChartFormat, Promise<string>>();

export function isChartFormat(value: unknown): value is ChartFormat {
  return typeof value === 'string' && (CHART_FORMATS as readonly string[]).includes(value);
}

/** The node chart as text in the format asked for; the first SVG takes a moment (Graphviz start-up). */
export function renderChart(format: ChartFormat): Promise<string> {
  if (!isChartFormat(format)) return Promise.reject(new Error(`unknown statechart format ${String(format)}; use one of ${CHART_FORMATS.join(', ')}`));
  let text = cache.get(format);
  if (!text) {
    text = produce(format);
    cache.set(format, text);
    // A failed render is not kept: the next request tries again.
    text.catch(() => cache.delete(format));
  }
  return text;
}

async function produce(format: ChartFormat): Promise<string> {
  switch (format) {
    case 'svg':
      return toSvg(nodeMachine);
    case 'dot':
      return toDot(nodeMachine);
    case 'mermaid':
      return toMermaid(nodeMachine);
    case 'json':
      return JSON.stringify(toJson(nodeMachine), null, 2) + '\n';
  }
}

export { toDot, toJson, toMermaid, toSvg } from './render.ts';
export { missingFromDot } from './dot-coverage.ts';
