// Lets plain `node` run the TypeScript fakes outside vitest:
//   node --import ./test/fakes/ts-register.mjs test/fakes/talos-node-main.ts --help
// Node 20 cannot strip types itself; the hooks in ts-hooks.mjs transpile
// .ts files with the project's own TypeScript (no type checking).
import { register } from 'node:module';

register('./ts-hooks.mjs', import.meta.url);
