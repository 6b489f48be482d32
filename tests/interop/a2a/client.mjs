// Interop client: the official A2A JavaScript SDK against tuna's A2A server.
//   node client.mjs <base-url> 1.0   uses @a2a-js/sdk (1.x, A2A 1.0: A2A-Version header, ROLE_* / TASK_STATE_*)
//   node client.mjs <base-url> 0.3   uses a2a-sdk-03 (@a2a-js/sdk 0.3.x, A2A 0.3: kind-tagged objects)
// The server's agent is tests/a2a/test_agent.hpp: "echo x", "direct x", "ask", "wait", "chunks".
// Prints "ok <step>" per passed step and "ALL OK" at the end; exits 1 on the first failure.

import { randomUUID } from 'node:crypto';

const [, , baseUrl, version] = process.argv;
if (!baseUrl || (version !== '1.0' && version !== '0.3')) {
  console.error('usage: node client.mjs <base-url> <1.0|0.3>');
  process.exit(2);
}

function check(cond, what, detail) {
  if (!cond) {
    console.error(`FAIL ${what}${detail !== undefined ? ': ' + JSON.stringify(detail) : ''}`);
    process.exit(1);
  }
}

function errorCode(err) {
  // 1.x error classes carry envelopeCode / code; 0.3 embeds the JSON-RPC error in the message.
  if (err && typeof err.envelopeCode === 'number') return err.envelopeCode;
  if (err && typeof err.code === 'number') return err.code;
  // 0.3.x maps known codes to error classes (and drops the code).
  const byName = { TaskNotFoundError: -32001, TaskNotCancelableError: -32002, PushNotificationNotSupportedError: -32003,
    UnsupportedOperationError: -32004 };
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

async function run10() {
  const { ClientFactory } = await import('@a2a-js/sdk/client');
  const { Role, TaskState } = await import('@a2a-js/sdk');
  const client = await new ClientFactory().createFromUrl(baseUrl);
  check(client.protocolVersion === '1.0', 'protocol version', client.protocolVersion);
  console.log('ok card');

  const msg = (text, extra = {}) => ({
    messageId: randomUUID(),
    role: Role.ROLE_USER,
    parts: [{ content: { $case: 'text', value: text }, metadata: undefined, filename: '', mediaType: '' }],
    contextId: '',
    taskId: '',
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
    ...extra,
  });
  const send = (message, configuration) => ({ tenant: '', message, configuration, metadata: undefined });
  const text = (m) => m.parts.map((p) => (p.content && p.content.$case === 'text' ? p.content.value : '')).join('');

  const task = await client.sendMessage(send(msg('echo hello')));
  check(task.status && task.status.state === TaskState.TASK_STATE_COMPLETED, 'send state', task.status);
  check(text(task.status.message) === 'echo: hello', 'send text', task.status.message);
  check(task.artifacts.length === 1 && text(task.artifacts[0]) === 'echo: hello', 'send artifact', task.artifacts);
  console.log('ok send');

  const direct = await client.sendMessage(send(msg('direct straight answer')));
  check(direct.messageId && text(direct) === 'straight answer' && direct.role === Role.ROLE_AGENT, 'direct message', direct);
  console.log('ok direct message');

  const cases = [];
  let taskId;
  for await (const ev of client.sendMessageStream(send(msg('chunks')))) {
    cases.push(ev.payload.$case);
    if (ev.payload.$case === 'task') taskId = ev.payload.value.id;
    if (ev.payload.$case === 'artifactUpdate') check(ev.payload.value.taskId === taskId, 'artifact task id', ev.payload.value);
  }
  check(JSON.stringify(cases) === JSON.stringify(['task', 'statusUpdate', 'artifactUpdate', 'artifactUpdate', 'artifactUpdate', 'statusUpdate']),
    'stream order', cases);
  console.log('ok stream');

  const got = await client.getTask({ tenant: '', id: taskId, historyLength: 1 });
  check(got.id === taskId && got.status.state === TaskState.TASK_STATE_COMPLETED, 'get state', got.status);
  check(got.history.length === 1, 'get historyLength', got.history.length);
  check(got.artifacts.length === 1 && got.artifacts[0].parts.length === 3, 'get artifacts', got.artifacts);
  console.log('ok get');

  const asked = await client.sendMessage(send(msg('ask')));
  check(asked.status.state === TaskState.TASK_STATE_INPUT_REQUIRED, 'ask state', asked.status);
  const answered = await client.sendMessage(send(msg('Ada', { taskId: asked.id, contextId: asked.contextId })));
  check(answered.id === asked.id && answered.status.state === TaskState.TASK_STATE_COMPLETED, 'multi-turn state', answered.status);
  check(text(answered.status.message) === 'hello Ada', 'multi-turn text', answered.status.message);
  console.log('ok multi-turn');

  const waiting = await client.sendMessage(send(msg('wait'), { acceptedOutputModes: [], historyLength: undefined, returnImmediately: true, taskPushNotificationConfig: undefined }));
  check(waiting.status.state !== TaskState.TASK_STATE_COMPLETED, 'non-blocking state', waiting.status);
  // Resubscribe, then cancel while subscribed: the stream ends with the canceled status.
  const sub = client.resubscribeTask({ tenant: '', id: waiting.id });
  const first = await sub.next();
  check(first.value && first.value.payload.$case === 'task', 'resubscribe first event', first.value);
  const canceled = await client.cancelTask({ tenant: '', id: waiting.id, metadata: undefined });
  check(canceled.status.state === TaskState.TASK_STATE_CANCELED, 'cancel state', canceled.status);
  const rest = [];
  for (let r = await sub.next(); !r.done; r = await sub.next()) rest.push(r.value);
  check(rest.length >= 1 && rest[rest.length - 1].payload.$case === 'statusUpdate' &&
    rest[rest.length - 1].payload.value.status.state === TaskState.TASK_STATE_CANCELED, 'resubscribe sees cancel', rest);
  console.log('ok cancel + resubscribe');

  const list = await client.listTasks({ tenant: '', contextId: asked.contextId, status: 0, pageSize: 10, pageToken: '', historyLength: 0, statusTimestampAfter: undefined, includeArtifacts: false });
  check(list.tasks.length === 1 && list.tasks[0].id === asked.id, 'list by context', list);
  console.log('ok list');

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

  const task = await client.sendMessage({ message: msg('echo hello') });
  check(task.kind === 'task' && task.status.state === 'completed', 'send state', task);
  check(text(task.status.message) === 'echo: hello', 'send text', task.status.message);
  console.log('ok send');

  const direct = await client.sendMessage({ message: msg('direct straight answer') });
  check(direct.kind === 'message' && text(direct) === 'straight answer', 'direct message', direct);
  console.log('ok direct message');

  const kinds = [];
  let taskId;
  let sawFinal = false;
  for await (const ev of client.sendMessageStream({ message: msg('chunks') })) {
    kinds.push(ev.kind);
    if (ev.kind === 'task') taskId = ev.id;
    if (ev.kind === 'status-update' && ev.final) sawFinal = true;
  }
  check(JSON.stringify(kinds) === JSON.stringify(['task', 'status-update', 'artifact-update', 'artifact-update', 'artifact-update', 'status-update']),
    'stream order', kinds);
  check(sawFinal, 'final flag');
  console.log('ok stream');

  const got = await client.getTask({ id: taskId, historyLength: 1 });
  check(got.id === taskId && got.status.state === 'completed' && got.history.length === 1, 'get', got);
  console.log('ok get');

  const asked = await client.sendMessage({ message: msg('ask') });
  check(asked.status.state === 'input-required', 'ask state', asked.status);
  const answered = await client.sendMessage({ message: msg('Grace', { taskId: asked.id, contextId: asked.contextId }) });
  check(answered.status.state === 'completed' && text(answered.status.message) === 'hello Grace', 'multi-turn', answered.status);
  console.log('ok multi-turn');

  const waiting = await client.sendMessage({ message: msg('wait'), configuration: { blocking: false } });
  check(waiting.kind === 'task' && waiting.status.state !== 'completed', 'non-blocking', waiting.status);
  const sub = client.resubscribeTask({ id: waiting.id });
  const first = await sub.next();
  check(first.value && first.value.kind === 'task', 'resubscribe first event', first.value);
  const canceled = await client.cancelTask({ id: waiting.id });
  check(canceled.status.state === 'canceled', 'cancel state', canceled.status);
  const rest = [];
  for (let r = await sub.next(); !r.done; r = await sub.next()) rest.push(r.value);
  check(rest.length >= 1 && rest[rest.length - 1].kind === 'status-update' && rest[rest.length - 1].status.state === 'canceled' &&
    rest[rest.length - 1].final === true, 'resubscribe sees cancel', rest);
  console.log('ok cancel + resubscribe');

  await expectError(client.getTask({ id: 'no-such-task' }), -32001, 'get unknown task');
  await expectError(client.cancelTask({ id: taskId }), -32002, 'cancel finished task');
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
