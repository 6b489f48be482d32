// Interop through tuna's gateway: the official A2A JavaScript SDK against a deployed agent
// (examples/agents/echo on the pool), with an API key.
//   node gateway_client.mjs <agent-url> <token> 1.0|0.3
// The agent answers "echo: <text>" and, for "wait N", works N seconds (so it can be cancelled).
// Prints "ok <step>" per passed step and "ALL OK" at the end; exits 1 on the first failure.

import { randomUUID } from 'node:crypto';

const [, , baseUrl, token, version] = process.argv;
if (!baseUrl || !token || (version !== '1.0' && version !== '0.3')) {
  console.error('usage: node gateway_client.mjs <agent-url> <token> <1.0|0.3>');
  process.exit(2);
}

// Every request of the SDK (card and JSON-RPC) carries the API key.
const realFetch = globalThis.fetch;
globalThis.fetch = (input, init = {}) => {
  const headers = new Headers(init.headers || {});
  headers.set('Authorization', `Bearer ${token}`);
  return realFetch(input, { ...init, headers });
};

function check(cond, what, detail) {
  if (!cond) {
    console.error(`FAIL ${what}${detail !== undefined ? ': ' + JSON.stringify(detail) : ''}`);
    process.exit(1);
  }
}

function errorCode(err) {
  if (err && typeof err.envelopeCode === 'number') return err.envelopeCode;
  if (err && typeof err.code === 'number') return err.code;
  const byName = { TaskNotFoundError: -32001, TaskNotCancelableError: -32002 };
  if (err && byName[err.name] !== undefined) return byName[err.name];
  const m = /(-320\d\d)/.exec(String(err && err.message));
  return m ? Number(m[1]) : undefined;
}

async function expectError(promise, code, what) {
  try {
    await promise;
  } catch (err) {
    check(errorCode(err) === code, what, { got: errorCode(err), name: err && err.name, message: err && err.message });
    return;
  }
  check(false, what, 'no error');
}

// The SDK must talk to the endpoint it was given (a stage), not resolve the card one level up:
// the task it created is known at that endpoint (each stage keeps its own tasks).
async function checkTaskIsAtEndpoint(taskId, method) {
  const url = baseUrl.replace(/\/+$/, '');
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params: { id: taskId } }),
  });
  const body = await res.json();
  check(res.status === 200 && body.result && body.result.id === taskId, 'the SDK used the given endpoint', { status: res.status, body });
  console.log('ok endpoint');
}

async function run10() {
  const { ClientFactory } = await import('@a2a-js/sdk/client');
  const { Role, TaskState } = await import('@a2a-js/sdk');
  const client = await new ClientFactory().createFromUrl(baseUrl);
  console.log('ok card');
  const msg = (text, extra = {}) => ({
    messageId: randomUUID(), role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    contextId: '', taskId: '', metadata: undefined, extensions: [], referenceTaskIds: [], ...extra,
  });
  const send = (message, configuration) => ({ tenant: '', message, configuration, metadata: undefined });
  const text = (m) => m.parts.map((p) => (p.content && p.content.$case === 'text' ? p.content.value : '')).join('');

  const task = await client.sendMessage(send(msg('hello')));
  check(task.status && task.status.state === TaskState.TASK_STATE_COMPLETED, 'send state', task.status);
  check(text(task.status.message) === 'echo: hello', 'send text', task.status.message);
  check(task.artifacts.length === 1 && text(task.artifacts[0]) === 'echo: hello', 'send artifact', task.artifacts);
  console.log('ok send');
  await checkTaskIsAtEndpoint(task.id, 'GetTask');

  const cases = [];
  let taskId;
  for await (const ev of client.sendMessageStream(send(msg('streamed')))) {
    cases.push(ev.payload.$case);
    if (ev.payload.$case === 'task') taskId = ev.payload.value.id;
  }
  check(cases[0] === 'task' && cases.includes('artifactUpdate') && cases[cases.length - 1] === 'statusUpdate', 'stream events', cases);
  console.log('ok stream');

  const got = await client.getTask({ tenant: '', id: taskId, historyLength: 10 });
  check(got.id === taskId && got.status.state === TaskState.TASK_STATE_COMPLETED, 'get state', got.status);
  check(got.history.length >= 1, 'get history', got.history);
  console.log('ok get');

  const waiting = await client.sendMessage(send(msg('wait 30'), { acceptedOutputModes: [], historyLength: undefined, returnImmediately: true, taskPushNotificationConfig: undefined }));
  check(waiting.status.state !== TaskState.TASK_STATE_COMPLETED, 'non-blocking state', waiting.status);
  const canceled = await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined });
  check(canceled.status.state === TaskState.TASK_STATE_CANCELED, 'cancel state', canceled.status);
  console.log('ok cancel');

  await expectError(client.getTask({ tenant: '', id: 'no-such-task' }), -32001, 'get unknown task');
  await expectError(client.cancelTask({ tenant: '', id: taskId, metadata: undefined }), -32002, 'cancel finished task');
  console.log('ok errors');
}

async function run03() {
  const { ClientFactory } = await import('a2a-sdk-03/client');
  const client = await new ClientFactory().createFromUrl(baseUrl);
  console.log('ok card');
  const msg = (text, extra = {}) => ({ kind: 'message', messageId: randomUUID(), role: 'user', parts: [{ kind: 'text', text }], ...extra });
  const text = (m) => m.parts.filter((p) => p.kind === 'text').map((p) => p.text).join('');

  const task = await client.sendMessage({ message: msg('hello') });
  check(task.kind === 'task' && task.status.state === 'completed', 'send state', task);
  check(text(task.status.message) === 'echo: hello', 'send text', task.status.message);
  console.log('ok send');
  await checkTaskIsAtEndpoint(task.id, 'tasks/get');

  const kinds = [];
  let taskId;
  for await (const ev of client.sendMessageStream({ message: msg('streamed') })) {
    kinds.push(ev.kind);
    if (ev.kind === 'task') taskId = ev.id;
  }
  check(kinds[0] === 'task' && kinds.includes('artifact-update') && kinds[kinds.length - 1] === 'status-update', 'stream events', kinds);
  console.log('ok stream');

  const got = await client.getTask({ id: taskId });
  check(got.id === taskId && got.status.state === 'completed', 'get', got);
  console.log('ok get');

  const waiting = await client.sendMessage({ message: msg('wait 30'), configuration: { blocking: false } });
  check(waiting.kind === 'task' && waiting.status.state !== 'completed', 'non-blocking', waiting.status);
  const canceled = await client.cancelTask({ id: waiting.id });
  check(canceled.status.state === 'canceled', 'cancel state', canceled.status);
  console.log('ok cancel');

  await expectError(client.getTask({ id: 'no-such-task' }), -32001, 'get unknown task');
  console.log('ok errors');
}

try {
  if (version === '1.0') await run10();
  else await run03();
  console.log('ALL OK');
} catch (err) {
  console.error('FAIL exception:', err && err.stack ? err.stack : err);
  process.exit(1);
}
