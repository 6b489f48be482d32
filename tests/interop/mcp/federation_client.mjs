// The official MCP TypeScript SDK client against tuna's federated agent endpoint
// /mcp/{ns}/agents/{agent}/{stage}, whose AgentResourceBinding (tests/gateway/gateway_federation_test.cpp)
// names three upstreams:
//   everything  @modelcontextprotocol/server-everything over stdio on the pool (allow: echo, add, longRunningOperation)
//   web         tuna's conformance fixture over Streamable HTTP (an external URL; every tool)
//   notes       an HTTP tool: an OpenAPI document whose upstream is the test's own HTTP server (allow: echo, getNote)
//
//   node federation_client.mjs URL TOKEN               everything below
//   node federation_client.mjs URL TOKEN stdio-progress  only: progress of the stdio upstream reaches the client
//
// Prints "ok <check>" per passed check, then "READY" and waits (up to 30 s) for
// notifications/tools/list_changed: the test then removes "web" from the binding and narrows
// "everything" to echo. Prints "ALL OK" at the end; exits 1 on the first failure.
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import {
  ToolListChangedNotificationSchema,
  ResourceListChangedNotificationSchema,
  PromptListChangedNotificationSchema,
} from '@modelcontextprotocol/sdk/types.js';

const [, , url, token, mode = 'all'] = process.argv;
if (!url || !token || (mode !== 'all' && mode !== 'stdio-progress')) {
  console.error('usage: node federation_client.mjs URL TOKEN [stdio-progress]');
  process.exit(2);
}

let step = 'start';
function check(cond, why) {
  if (!cond) throw new Error(why);
  console.log(`ok ${step}`);
}
const text = (r) => (r.content || []).filter((c) => c.type === 'text').map((c) => c.text).join('');
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// The calls that must be refused: an error result or a JSON-RPC error, never a success.
async function refused(client, name) {
  try {
    const r = await client.callTool({ name, arguments: {} });
    return r.isError === true ? text(r) : null;
  } catch (e) {
    return String(e && e.message);
  }
}

const listChanged = { tools: 0, resources: 0, prompts: 0 };
let toolsChanged;
const toolsChangedPromise = new Promise((resolve) => {
  toolsChanged = resolve;
});

try {
  const client = new Client({ name: 'tuna-federation-interop', version: '1.0.0' });
  client.setNotificationHandler(ToolListChangedNotificationSchema, () => {
    listChanged.tools++;
    toolsChanged();
  });
  client.setNotificationHandler(ResourceListChangedNotificationSchema, () => listChanged.resources++);
  client.setNotificationHandler(PromptListChangedNotificationSchema, () => listChanged.prompts++);
  const transport = new StreamableHTTPClientTransport(new URL(url), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  step = 'initialize';
  await client.connect(transport);
  check(typeof transport.sessionId === 'string' && transport.sessionId.length > 0, 'no Mcp-Session-Id');
  const caps = client.getServerCapabilities();
  step = 'capabilities';
  check(caps.tools && caps.tools.listChanged && caps.resources && caps.prompts, `capabilities ${JSON.stringify(caps)}`);

  if (mode === 'stdio-progress') {
    step = 'progress of a stdio upstream reaches the client';
    const stdioProgress = [];
    const slow = await client.callTool({ name: 'everything__longRunningOperation', arguments: { duration: 0.3, steps: 3 } }, undefined,
      { onprogress: (p) => stdioProgress.push(p) });
    check(!slow.isError && stdioProgress.length === 3 && stdioProgress[2].progress === 3 && stdioProgress[2].total === 3,
      `progress ${JSON.stringify(stdioProgress)} result ${JSON.stringify(slow)}`);
    await transport.terminateSession();
    await client.close();
    console.log('ALL OK');
    process.exit(0);
  }

  // ---- tools of three upstreams, one namespace each, allowlists applied
  step = 'tools/list';
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name).sort();
  check(new Set(names).size === names.length, `duplicate names ${JSON.stringify(names)}`);
  const of = (prefix) => names.filter((n) => n.startsWith(`${prefix}__`)).map((n) => n.slice(prefix.length + 2));
  step = 'tools/list: everything (stdio) filtered by its allowlist';
  check(same(of('everything'), ['add', 'echo', 'longRunningOperation']), `everything ${JSON.stringify(of('everything'))}`);
  step = 'tools/list: notes (HTTP tool) filtered by its allowlist';
  check(same(of('notes'), ['echo', 'getNote']), `notes ${JSON.stringify(of('notes'))}`);
  step = 'tools/list: web (Streamable HTTP), every tool';
  check(of('web').includes('test_simple_text') && of('web').includes('test_tool_with_progress') && of('web').length >= 10,
    `web ${JSON.stringify(of('web'))}`);
  step = 'tools/list: every name is <binding>__<tool>';
  check(names.every((n) => /^(everything|web|notes)__[^_]/.test(n)), `names ${JSON.stringify(names)}`);
  step = 'tools/list: the same tool name of two upstreams stays two tools';
  const everythingEcho = tools.find((t) => t.name === 'everything__echo');
  const notesEcho = tools.find((t) => t.name === 'notes__echo');
  check(everythingEcho && notesEcho && !same(everythingEcho.inputSchema, notesEcho.inputSchema),
    `echo schemas ${JSON.stringify([everythingEcho, notesEcho])}`);

  // ---- calls reach each upstream
  step = 'tools/call everything__echo (stdio)';
  const e1 = await client.callTool({ name: 'everything__echo', arguments: { message: 'via stdio' } });
  check(!e1.isError && text(e1) === 'Echo: via stdio', JSON.stringify(e1));
  step = 'tools/call everything__add (stdio)';
  const e2 = await client.callTool({ name: 'everything__add', arguments: { a: 2, b: 40 } });
  check(!e2.isError && text(e2).includes('42'), JSON.stringify(e2));
  step = 'tools/call notes__echo (HTTP tool)';
  const n1 = await client.callTool({ name: 'notes__echo', arguments: { text: 'via http' } });
  check(!n1.isError && text(n1).includes('"text":"via http"') && text(n1).includes('"upstream":"notes"'), JSON.stringify(n1));
  step = 'tools/call notes__getNote (HTTP tool, path parameter)';
  const n2 = await client.callTool({ name: 'notes__getNote', arguments: { id: 7 } });
  check(!n2.isError && text(n2).includes('"title":"note 7"'), JSON.stringify(n2));
  step = 'tools/call web__test_simple_text (Streamable HTTP)';
  const w1 = await client.callTool({ name: 'web__test_simple_text', arguments: {} });
  check(!w1.isError && text(w1) === 'This is a simple text response for testing.', JSON.stringify(w1));
  step = 'tools/call web__test_image_content (non-text content passes through)';
  const w2 = await client.callTool({ name: 'web__test_image_content', arguments: {} });
  check(!w2.isError && w2.content[0].type === 'image' && w2.content[0].mimeType === 'image/png', JSON.stringify(w2));

  step = 'progress of an HTTP upstream reaches the client';
  const httpProgress = [];
  const slow2 = await client.callTool({ name: 'web__test_tool_with_progress', arguments: {} }, undefined,
    { onprogress: (p) => httpProgress.push(p) });
  check(!slow2.isError && same(httpProgress.map((p) => p.progress), [0, 50, 100]), `progress ${JSON.stringify(httpProgress)}`);

  // ---- what the allowlists and the prefixes keep out
  for (const name of ['everything__printEnv', 'notes__deleteNote', 'nobody__echo', 'echo']) {
    step = `tools/call ${name} is refused`;
    const why = await refused(client, name);
    check(why !== null && /unknown tool/i.test(why), `${name}: ${why}`);
  }

  // ---- resources of two upstreams behind one session
  step = 'resources/list';
  const { resources } = await client.listResources();
  const uris = resources.map((r) => r.uri);
  check(uris.includes('test://static/resource/1') && uris.includes('test://static-text'), `uris ${JSON.stringify(uris)}`);
  step = 'resources/read from the stdio upstream';
  const r1 = await client.readResource({ uri: 'test://static/resource/1' });
  check(r1.contents[0].uri === 'test://static/resource/1' && /Resource 1/.test(r1.contents[0].text), JSON.stringify(r1));
  step = 'resources/read from the HTTP upstream';
  const r2 = await client.readResource({ uri: 'test://static-text' });
  check(r2.contents[0].text === 'This is the content of the static text resource.', JSON.stringify(r2));
  step = 'resources/read of a template URI (no upstream listed it)';
  const r3 = await client.readResource({ uri: 'test://template/42/data' });
  check(JSON.parse(r3.contents[0].text).id === '42', JSON.stringify(r3));
  step = 'resources/templates/list';
  const { resourceTemplates } = await client.listResourceTemplates();
  check(resourceTemplates.some((t) => t.uriTemplate === 'test://template/{id}/data'), JSON.stringify(resourceTemplates));

  // ---- prompts of two upstreams, prefixed like tools
  step = 'prompts/list';
  const { prompts } = await client.listPrompts();
  const promptNames = prompts.map((p) => p.name);
  check(promptNames.includes('everything__simple_prompt') && promptNames.includes('web__test_simple_prompt') &&
    promptNames.every((n) => /^(everything|web)__/.test(n)), `prompts ${JSON.stringify(promptNames)}`);
  step = 'prompts/get from the stdio upstream';
  const p1 = await client.getPrompt({ name: 'everything__simple_prompt' });
  check(p1.messages.length > 0 && /without arguments/.test(p1.messages[0].content.text), JSON.stringify(p1));
  step = 'prompts/get with arguments from the HTTP upstream';
  const p2 = await client.getPrompt({ name: 'web__test_prompt_with_arguments', arguments: { arg1: 'x', arg2: 'y' } });
  check(p2.messages[0].content.text === "Prompt with arguments: arg1='x', arg2='y'", JSON.stringify(p2));

  // ---- the binding changes while the session is open
  step = 'list_changed';
  check(listChanged.tools === 0, `list_changed before any change: ${JSON.stringify(listChanged)}`);
  console.log('READY');
  const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error('no notifications/tools/list_changed within 30 s')), 30000));
  await Promise.race([toolsChangedPromise, timeout]);
  check(true, '');
  step = 'resources and prompts list_changed too';
  for (let i = 0; i < 200 && (listChanged.resources === 0 || listChanged.prompts === 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
  }
  check(listChanged.resources > 0 && listChanged.prompts > 0, `list_changed ${JSON.stringify(listChanged)}`);
  step = 'tools/list after the binding changed';
  const after = (await client.listTools()).tools.map((t) => t.name).sort();
  check(same(after, ['everything__echo', 'notes__echo', 'notes__getNote']), `tools ${JSON.stringify(after)}`);
  step = 'a removed upstream is gone from the session';
  const gone = await refused(client, 'web__test_simple_text');
  check(gone !== null, 'web__test_simple_text still answers');
  const afterUris = (await client.listResources()).resources.map((r) => r.uri);
  check(!afterUris.includes('test://static-text') && afterUris.includes('test://static/resource/1'), `uris ${JSON.stringify(afterUris)}`);
  const afterPrompts = (await client.listPrompts()).prompts.map((p) => p.name);
  check(!afterPrompts.some((n) => n.startsWith('web__')), `prompts ${JSON.stringify(afterPrompts)}`);
  step = 'a kept upstream keeps working';
  const e3 = await client.callTool({ name: 'everything__echo', arguments: { message: 'still here' } });
  check(!e3.isError && text(e3) === 'Echo: still here', JSON.stringify(e3));
  const narrowed = await refused(client, 'everything__add');
  check(narrowed !== null, 'everything__add still answers after its allowlist was narrowed');

  step = 'close';
  await transport.terminateSession();
  await client.close();
  check(true, '');
  console.log(`list_changed received: ${JSON.stringify(listChanged)}`);
  console.log('ALL OK');
  process.exit(0);
} catch (err) {
  console.error(`FAIL ${step}: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}
