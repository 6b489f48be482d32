// Interop check: the official MCP TypeScript SDK (Client + StreamableHTTPClientTransport)
// against a tuna MCP server. Usage: node client.mjs URL
// Prints one "ok <check>" line per passed check and exits 0; on the first failure prints
// "FAIL <check>: <why>" and exits 1. Run by tests/mcp/mcp_interop_test.cpp.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';

const url = process.argv[2];
if (!url) {
  console.error('usage: node client.mjs URL');
  process.exit(2);
}

let step = 'start';
function check(cond, why) {
  if (!cond) throw new Error(why);
  console.log(`ok ${step}`);
}

try {
  const client = new Client({ name: 'tuna-interop', version: '1.0.0' });
  const transport = new StreamableHTTPClientTransport(new URL(url));

  step = 'initialize';
  await client.connect(transport);
  const info = client.getServerVersion();
  check(info && info.name === 'tuna-fixture', `serverInfo ${JSON.stringify(info)}`);
  step = 'session';
  check(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'no Mcp-Session-Id');
  step = 'version';
  check(transport.protocolVersion === '2025-11-25', `negotiated ${transport.protocolVersion}`);

  step = 'ping';
  await client.ping();
  check(true, '');

  step = 'tools/list';
  const listed = await client.listTools();
  const names = listed.tools.map((t) => t.name);
  check(['echo', 'add', 'fail'].every((n) => names.includes(n)), `tools ${JSON.stringify(names)}`);

  step = 'tools/call echo';
  const echo = await client.callTool({ name: 'echo', arguments: { text: 'hello from node' } });
  check(!echo.isError && echo.content[0].type === 'text' && echo.content[0].text === 'hello from node',
        JSON.stringify(echo));

  step = 'tools/call add (structured, validated by the SDK against outputSchema)';
  const add = await client.callTool({ name: 'add', arguments: { a: 2, b: 40 } });
  check(add.structuredContent && add.structuredContent.sum === 42, JSON.stringify(add));

  step = 'tools/call fail (isError result)';
  const failed = await client.callTool({ name: 'fail', arguments: {} });
  check(failed.isError === true && failed.content[0].text === 'upstream is down', JSON.stringify(failed));

  step = 'tools/call count with progress (SSE)';
  const progress = [];
  const counted = await client.callTool({ name: 'count', arguments: { n: 3 } }, undefined,
                                        { onprogress: (p) => progress.push(p.progress) });
  check(counted.content[0].text === 'counted 3 with progress' && JSON.stringify(progress) === '[1,2,3]',
        JSON.stringify({ counted, progress }));

  step = 'tools/call unknown (-32602)';
  let code = null;
  try {
    await client.callTool({ name: 'no_such_tool', arguments: {} });
  } catch (err) {
    code = err.code;
  }
  check(code === -32602, `error code ${code}`);

  step = 'resources/list + read';
  const resources = await client.listResources();
  const read = await client.readResource({ uri: 'tuna://fixture/readme' });
  check(resources.resources.some((r) => r.uri === 'tuna://fixture/readme') && read.contents[0].text === 'hello resource',
        JSON.stringify({ resources, read }));

  step = 'prompts/list + get';
  const prompts = await client.listPrompts();
  const prompt = await client.getPrompt({ name: 'greet', arguments: { name: 'Ada' } });
  check(prompts.prompts.some((p) => p.name === 'greet') && prompt.messages[0].content.text === 'Say hello to Ada',
        JSON.stringify({ prompts, prompt }));

  step = 'terminate session';
  await transport.terminateSession();
  check(transport.sessionId === undefined, `session ${transport.sessionId}`);
  await client.close();
  console.log('ALL OK');
  process.exit(0);
} catch (err) {
  console.log(`FAIL ${step}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
