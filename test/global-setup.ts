import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The tests drive the build in dist/ (the CLI and service tests spawn dist/cli/main.js), so every
 * vitest run builds first: a bare `npx vitest run test/x.test.ts` can never test a stale build.
 * tsc is incremental (tsconfig.json), so an unchanged tree costs about a second.
 */
export default function setup(): void {
  const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
  execFileSync(
    process.execPath,
    [path.join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'],
    {
      cwd: root,
      stdio: 'inherit',
    },
  );
}
