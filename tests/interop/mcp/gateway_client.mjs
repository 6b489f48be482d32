// The official MCP TypeScript SDK client through tuna's gateway, with an API key.
//   node gateway_client.mjs URL TOKEN server      the example "hello" MCP server (stdio on the pool)
//   node gateway_client.mjs URL TOKEN federated   the echo agent's federated endpoint: hello + petstore
// Prints "ok <check>" per passed check and "ALL OK"; exits 1 on the first failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const [, , url, token, mode] = process.argv;
if (!url || !token || (mode !== 'server' && mode !== 'federated')) {
  console.error('usage: node gateway_client.mjs URL TOKEN server|federated');
  process.exit(2);
}

let step = 'start';
function check(cond, why) {
  if (!cond) throw new Error(why);
  console.log(`ok ${step}`);
}
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');

try {
  const client = new Client({ name: 'tuna-gateway-interop', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  step = 'initialize';
  await client.connect(transport);
  check(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'no Mcp-Session-Id');

  step = 'tools/list';
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  const greet = mode === 'server' ? 'greet' : 'hello__greet';
  const add = mode === 'server' ? 'add' : 'hello__add';
  if (mode === 'server') {
    check(JSON.stringify(names) === JSON.stringify(['add', 'greet']), `tools ${JSON.stringify(names)}`);
  } else {
    // hello's tools, and of the petstore only the allowed getPetById; no name collides.
    check(JSON.stringify(names) === JSON.stringify(['hello__add', 'hello__greet', 'petstore__getPetById']), `tools ${JSON.stringify(names)}`);
    const pet = tools.find((t) => t.name === 'petstore__getPetById');
    step = 'http tool schema';
    check(pet.inputSchema && pet.inputSchema.properties && pet.inputSchema.properties.petId &&
      !JSON.stringify(pet.inputSchema).includes('$ref'), `schema ${JSON.stringify(pet.inputSchema)}`);
  }

  step = 'tools/call';
  const hi = await client.callTool({ name: greet, arguments: { name: 'Ada' } });
  check(!hi.isError && text(hi) === 'Hello, Ada!', `greet ${JSON.stringify(hi)}`);
  const sum = await client.callTool({ name: add, arguments: { a: 1, b: 2 } });
  check(!sum.isError && Number(text(sum)) === 3, `add ${JSON.stringify(sum)}`);

  step = 'unknown tool';
  let refused = false;
  try {
    const r = await client.callTool({ name: mode === 'server' ? 'nope' : 'hello__nope', arguments: {} });
    refused = r.isError === true;
  } catch (e) {
    refused = /-32602|unknown/i.test(String(e && e.message));
  }
  check(refused, 'an unknown tool was not refused');

  if (mode === 'federated') {
    step = 'http tool call';
    // The petstore is not reachable from a sandboxed test machine (or answers): either way a
    // result, never a protocol error.
    const pet = await client.callTool({ name: 'petstore__getPetById', arguments: { petId: 10 } });
    check(Array.isArray(pet.content) && pet.content.length > 0, `petstore ${JSON.stringify(pet)}`);
  }

  step = 'close';
  await transport.terminateSession();
  await client.close();
  check(true, '');
  console.log('ALL OK');
} catch (err) {
  console.error(`FAIL ${step}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
