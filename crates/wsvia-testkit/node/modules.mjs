// Loads the npm packages of package.json from where scripts/test installed them.
//
// `npm ci` installs into target/peers/node/node_modules (not beside these scripts, so the
// source tree stays clean). ES modules ignore NODE_PATH, so a bare `import 'ws'` here
// would not find them: instead each package is resolved with a `require` rooted at that
// directory and imported by file URL. The directory is $WSVIA_NODE_MODULES (the Rust
// testkit sets it), else target/peers/node/node_modules under the workspace root.
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));

/** The node_modules directory the packages are installed in. */
export const modulesDir =
  process.env.WSVIA_NODE_MODULES ?? resolve(here, '../../../target/peers/node/node_modules');

/** `import(name)`, resolved in modulesDir; exits 1 with the install hint when missing. */
export async function load(name) {
  const require = createRequire(join(modulesDir, '..', 'package.json'));
  let path;
  try {
    path = require.resolve(name);
  } catch (error) {
    console.log(
      `error: the npm package ${name} is not installed in ${modulesDir} (${error.code}); ` +
        'run scripts/test as root, or: npm ci --prefix target/peers/node ' +
        '(after copying crates/wsvia-testkit/node/package*.json there)',
    );
    process.exit(1);
  }
  return import(pathToFileURL(path).href);
}

