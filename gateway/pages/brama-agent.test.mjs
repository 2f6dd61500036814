// Unit tests of the browser client: node --test agent/web/
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { BramaAgent, AgentError, MESSAGES, message } from "./brama-agent.js";

const reply = (status, body) => ({ status, json: async () => body });

/** A scripted agent: routes → list of replies; records every call and window. */
function fake(routes, { permission = "prompt", popup = true } = {}) {
  const calls = [];
  const windows = [];
  const agent = new BramaAgent({
    base: "http://127.0.0.1:47560",
    pollMs: 0,
    sleep: async () => {},
    fetch: async (url, init) => {
      const path = url.replace("http://127.0.0.1:47560", "");
      calls.push({ path, init });
      const queue = routes[path];
      if (!queue) throw new TypeError("Failed to fetch");
      const next = queue.length > 1 ? queue.shift() : queue[0];
      if (next instanceof Error) throw next;
      return next;
    },
    open: (url) => {
      calls.push({ open: url });
      if (!popup) return null;
      const w = { location: { href: url }, closed: false, close() { this.closed = true; } };
      windows.push(w);
      return w;
    },
    permissions: { query: async ({ name }) => {
      if (name === "loopback-network") throw new TypeError("unknown permission");
      return { state: permission };
    } },
  });
  return { agent, calls, windows };
}

test("info: running agent", async () => {
  const { agent } = fake({ "/v1/info": [reply(200, { name: "brama-agent", api_version: 1, origin_approved: true })] });
  assert.equal((await agent.info()).api_version, 1);
});

test("a failed fetch is 'permission denied' or 'not running', told apart by the permission", async () => {
  for (const [permission, code] of [["denied", "permission_denied"], ["prompt", "agent_not_running"], ["granted", "agent_not_running"]]) {
    const { agent } = fake({}, { permission });
    await assert.rejects(agent.info(), (e) => e instanceof AgentError && e.code === code);
  }
  const noPermissionsApi = new BramaAgent({ fetch: async () => { throw new TypeError("x"); }, permissions: {} });
  await assert.rejects(noPermissionsApi.info(), (e) => e.code === "agent_not_running");
});

test("an old agent is reported as outdated", async () => {
  const { agent } = fake({ "/v1/info": [reply(200, { name: "brama-agent", api_version: 0 })] });
  await assert.rejects(agent.info(), (e) => e.code === "agent_outdated" && /застаріла/.test(e.message));
});

test("authenticate opens the window before any await, then polls to the result", async () => {
  const { agent, calls, windows } = fake({
    "/v1/authenticate": [reply(202, { state: "pending", request: "ab", approve_url: "http://127.0.0.1:47560/ui/approve/ab" })],
    "/v1/requests/ab": [reply(202, { state: "pending" }), reply(202, { state: "pending" }), reply(200, { state: "done", result: { signature: "MII=" } })],
  });
  const promise = agent.authenticate("ch", { container: "c-1" });
  // Synchronously, before the first await resolved: the window is open and no fetch has gone out.
  assert.deepEqual(calls[0], { open: "about:blank" });
  const result = await promise;
  assert.equal(result.signature, "MII=");
  assert.equal(windows[0].location.href, "http://127.0.0.1:47560/ui/approve/ab?lang=uk", "the agent's window speaks the page's language");
  const sent = JSON.parse(calls[1].init.body);
  assert.deepEqual(sent, { container: "c-1", challenge: "ch" });
  assert.equal(calls.filter((c) => c.path === "/v1/requests/ab").length, 3);
});

test("a blocked popup is a clear error", async () => {
  const { agent } = fake({}, { popup: false });
  await assert.rejects(agent.authenticate("ch", { container: "c" }), (e) => e.code === "popup_blocked");
});

test("containers: approved origin needs no window; a new origin gets one", async () => {
  const approved = fake({
    "/v1/info": [reply(200, { name: "brama-agent", api_version: 1, origin_approved: true })],
    "/v1/containers": [reply(200, { containers: [{ id: "c-1" }] })],
  });
  await approved.agent.info();
  assert.deepEqual(await approved.agent.containers(), [{ id: "c-1" }]);
  assert.equal(approved.windows.length, 0);

  const fresh = fake({
    "/v1/info": [reply(200, { name: "brama-agent", api_version: 1, origin_approved: false })],
    "/v1/containers": [reply(202, { state: "pending", request: "r", approve_url: "u" })],
    "/v1/requests/r": [reply(200, { state: "done", result: { containers: [] } })],
  });
  await fresh.agent.info();
  assert.deepEqual(await fresh.agent.containers(), []);
  assert.equal(fresh.windows.length, 1);
});

test("agent errors become localised errors with their details", async () => {
  const { agent, windows } = fake({
    "/v1/authenticate": [reply(403, { error: { code: "origin_denied", message: "…", retry_after: 42 } })],
  });
  await assert.rejects(agent.authenticate("c", { container: "x" }), (e) => {
    assert.equal(e.code, "origin_denied");
    assert.equal(e.retryAfter, 42);
    assert.equal(e.message, MESSAGES.origin_denied[0]);
    return true;
  });
  assert.equal(windows[0].closed, true, "the unused window is closed");
  const en = new BramaAgent({ lang: "en", fetch: async () => reply(401, { error: { code: "wrong_password", tries_left: 2 } }), open: () => ({ location: {}, close() {} }) });
  await assert.rejects(en.authenticate("c", {}), (e) => e.message === "Wrong key password." && e.triesLeft === 2);
});

test("a window that looks closed (COOP) is not a cancel; the agent's word is", async () => {
  const { agent, windows } = fake({
    "/v1/sign": [reply(202, { state: "pending", request: "q", approve_url: "u" })],
    "/v1/requests/q": [
      reply(202, { state: "pending" }),
      reply(202, { state: "pending" }),
      reply(202, { state: "pending" }),
      reply(202, { state: "pending" }),
      reply(410, { error: { code: "approval_window_closed" } }),
    ],
  });
  const p = agent.sign({ container: "c", content: new TextEncoder().encode("doc"), name: "a.txt" });
  windows[0].closed = true;
  await assert.rejects(p, (e) => e.code === "approval_window_closed" && e.message === MESSAGES.approval_window_closed[0]);
});

test("sign sends base64 content or a hash", async () => {
  const { agent, calls } = fake({ "/v1/sign": [reply(409, { error: { code: "container_busy" } })] });
  await assert.rejects(agent.sign({ container: "c", content: new Uint8Array([104, 105]), detached: true }));
  assert.deepEqual(JSON.parse(calls[1].init.body), { container: "c", content: "aGk=", detached: true });
  await assert.rejects(agent.sign({ container: "c", hash: new Uint8Array(32), hashAlgorithm: "sha256" }));
  assert.equal(JSON.parse(calls[3].init.body).hash_algorithm, "sha256");
});

test("every error code the agent documents has a message in each language", () => {
  const spec = JSON.parse(readFileSync(new URL("../../docs/agent-openapi.json", import.meta.url)));
  const codes = spec.components.schemas.Error.properties.error.properties.code.enum;
  for (const code of [...codes, ...Object.keys(MESSAGES)]) {
    assert.ok(MESSAGES[code], `no message for ${code}`);
    const [uk, en, ru] = ["uk", "en", "ru"].map((l) => message(code, l));
    assert.ok(uk && en && ru && new Set([uk, en, ru]).size === 3, `${code}: one text per language`);
    assert.match(ru, /[ыэъё]|[а-я]/i, `${code}: Russian is Cyrillic`);
  }
  assert.equal(message("no-such-code", "en"), MESSAGES.unexpected[1]);
});
