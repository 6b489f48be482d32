// Preloaded into the conformance CLI (node --import) by run_conformance.py --header: adds the
// given HTTP headers (an API key for a gateway) to every request the suite sends. Both of the
// suite's HTTP paths go through undici's global dispatcher: the SDK client's fetch and the raw
// undici.request of some scenarios. The headers are added, never replacing one the suite sets.
//   CONFORMANCE_EXTRA_HEADERS  JSON object {"Name": "value"}
//   CONFORMANCE_UNDICI         path of the suite's own undici (its package's index.js)
import { pathToFileURL } from 'node:url';

const extra = JSON.parse(process.env.CONFORMANCE_EXTRA_HEADERS || '{}');
const { Agent, setGlobalDispatcher } = await import(pathToFileURL(process.env.CONFORMANCE_UNDICI).href);

function withExtra(headers) {
  if (Array.isArray(headers)) {
    const names = new Set(headers.filter((_, i) => i % 2 === 0).map((n) => String(n).toLowerCase()));
    const out = [...headers];
    for (const [k, v] of Object.entries(extra)) if (!names.has(k.toLowerCase())) out.push(k, v);
    return out;
  }
  const out = { ...(headers || {}) };
  const names = new Set(Object.keys(out).map((n) => n.toLowerCase()));
  for (const [k, v] of Object.entries(extra)) if (!names.has(k.toLowerCase())) out[k] = v;
  return out;
}

setGlobalDispatcher(new Agent().compose((dispatch) => (opts, handler) => dispatch({ ...opts, headers: withExtra(opts.headers) }, handler)));
