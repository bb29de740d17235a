/** Every figure `npm run bench` knows, in the order it runs them. */
import type { Figure } from '../lib/figure.ts';
import { heapFigure } from './heap.ts';
import { ipmiFigure } from './ipmi.ts';
import { latencyFigure } from './latency.ts';
import { restoreFigure } from './restore.ts';
import { throughputFigure } from './throughput.ts';

export const FIGURES: readonly Figure[] = [throughputFigure, heapFigure, restoreFigure, latencyFigure, ipmiFigure];
