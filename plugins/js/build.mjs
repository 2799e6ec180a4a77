// Builds each agent here (a folder with agent.js) into dist/NAME.wasm:
// `npm run build` for all, `npm run build -- echo` for some.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const here = import.meta.dirname;
const cli = join(here, 'node_modules', '.bin', 'componentize-js');
const wanted = process.argv.slice(2);
const agents = wanted.length
  ? wanted
  : readdirSync(here).filter((d) => existsSync(join(here, d, 'agent.js')));
mkdirSync(join(here, 'dist'), { recursive: true });
for (const name of agents) {
  const out = join(here, 'dist', `${name}.wasm`);
  // Without `-d http fetch-event` the component imports wasi:http, which a
  // Caxton node does not link.
  execFileSync(cli, [join(here, name, 'agent.js'), '-w', join(here, '..', '..', 'wit'), '-n', 'agent',
    '-d', 'http', 'fetch-event', '-o', out], { stdio: 'inherit' });
  console.log(`built ${out}`);
}
