// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.tmp/', 'data/', 'docs/', 'test-results/', 'bench/results/', 'src/http/ui/vendor/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly', setImmediate: 'readonly', URL: 'readonly', AbortController: 'readonly', AbortSignal: 'readonly', fetch: 'readonly', Buffer: 'readonly', TextEncoder: 'readonly', TextDecoder: 'readonly', structuredClone: 'readonly', queueMicrotask: 'readonly', performance: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': ['error',
        { selector: "MemberExpression[object.name='process'][property.name='env']", message: 'Read configuration through src/config.ts only.' }],
    },
  },
  {
    // The chart is pure: it may import xstate and its own files, nothing else (no I/O, no clock).
    files: ['src/machines/**/*.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ regex: '^(?!xstate$|\\./|\\.\\./machines/).*', message: 'src/machines/ may import only xstate and local chart files.' }] }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'No randomness in the chart: draws (jitter) come in on events.' }],
      'no-restricted-globals': ['error', { name: 'Date', message: 'No clock in the chart: instants come in on events.' }, { name: 'setTimeout', message: 'No timers in the chart.' }, { name: 'setInterval', message: 'No timers in the chart.' }, { name: 'performance', message: 'No clock in the chart.' }],
    },
  },
  {
    files: ['src/config.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'vitest.config.ts'],
    rules: { 'no-restricted-syntax': 'off' },
  },
);
