// Lets Node run the TypeScript sources directly, without `npm run build`:
// `node --experimental-transform-types --import ./scripts/ts-hooks.mjs --test test/domain/session.test.ts`
// (what `npm run test:one` runs). Node strips and transforms the types itself; the
// sources import their siblings as `./x.js` (what tsc emits beside them), so this
// synchronous resolve hook maps such a specifier, when no .js file is there but a
// .ts file is, to that .ts file. Only files inside this repository are touched.
import { existsSync } from 'node:fs';
import { registerHooks } from 'node:module';
import { fileURLToPath } from 'node:url';

const root = new URL('../', import.meta.url).href;
const skip = `${root}node_modules/`;

registerHooks({
  resolve(specifier, context, nextResolve) {
    if (
      (specifier.startsWith('.') || specifier.startsWith('file:')) &&
      specifier.endsWith('.js') &&
      context.parentURL?.startsWith(root) &&
      !context.parentURL.startsWith(skip)
    ) {
      const url = new URL(specifier, context.parentURL);
      if (url.href.startsWith(root) && !existsSync(fileURLToPath(url))) {
        const ts = new URL(url.href.replace(/\.js$/, '.ts'));
        if (existsSync(fileURLToPath(ts))) return nextResolve(ts.href, context);
      }
    }
    return nextResolve(specifier, context);
  },
});
