// The checks that keep the house in order, run by `npm test` (npm run lint). Type-aware: a
// promise nobody awaits or handles is an error (a lost alert looks like that), and so is a switch
// over a union that forgets a case. Import boundaries: a service never imports another service or
// the tooling (training/, evaluation/: a service runs the trainer as a child process, by path);
// shared/ imports neither; training/ imports no service and no evaluation.
import tseslint from 'typescript-eslint';

const SERVICES = ['sensor-reader', 'preprocessor', 'inference', 'adaptive-threshold', 'alert-publisher'];
/** shared/ is imported by what it offers, so each module says what it depends on. */
const NO_BARREL = [{ name: '@vigil/shared', message: 'import a sub-path: @vigil/shared/runtime, /features, /model or /detection' }];
const TOOLING = [
  { group: ['**/training/**'], message: 'serving code never imports training: run it as a child process' },
  { group: ['**/evaluation/**'], message: 'serving code never imports evaluation' },
];

export default tseslint.config(
  { ignores: ['**/dist/**', 'node_modules/**', '**/node_modules/**', 'models/**', 'bench/results/**', '.stack/**'] },
  {
    files: ['**/*.ts'],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { '@typescript-eslint': tseslint.plugin },
    rules: {
      // node:test's describe/it return promises the runner awaits itself.
      '@typescript-eslint/no-floating-promises': ['error', { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['describe', 'it', 'test', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }] }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/switch-exhaustiveness-check': ['error', { considerDefaultExhaustiveForUnions: true }],
      '@typescript-eslint/await-thenable': 'error',
    },
  },
  { files: ['**/*.ts'], ignores: ['shared/**'], rules: { 'no-restricted-imports': ['error', { paths: NO_BARREL }] } },
  { files: ['shared/**/*.ts'], rules: { 'no-restricted-imports': ['error', { patterns: [{ group: ['**/services/**'], message: 'shared/ knows no service' }, ...TOOLING] }] } },
  {
    files: ['training/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NO_BARREL,
          patterns: [{ group: ['**/services/**'], message: 'training knows no service' }, { group: ['**/evaluation/**'], message: 'training knows no evaluation' }],
        },
      ],
    },
  },
  { files: ['evaluation/**/*.ts'], rules: { 'no-restricted-imports': ['error', { paths: NO_BARREL, patterns: [{ group: ['**/services/**'], message: 'evaluation knows no service' }] }] } },
  ...SERVICES.map((service) => ({
    files: [`services/${service}/src/**/*.ts`],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: NO_BARREL,
          patterns: [
            ...SERVICES.filter((other) => other !== service).map((other) => ({
              group: [`**/${other}/**`, `../../${other}/**`],
              message: 'a service never imports another service: share it through shared/',
            })),
            ...TOOLING,
          ],
        },
      ],
    },
  })),
);
