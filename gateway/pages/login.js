// The gateway's login page: find the agent, list signing certificates, and sign in.
// The challenge is fetched before the click, so the click can open the agent's approval
// window synchronously (a window opened after an `await` is blocked). One language at a time:
// everything shown is kept as codes and drawn again when the person switches.
import { BramaAgent, AgentError } from "./brama-agent.js";
import { GATEWAY, TEXT, apply, date, pageLang, remember, stored, tr } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let lang = pageLang(stored(), document.documentElement.lang);
const agent = new BramaAgent({ base: document.body.dataset.agent, lang });
const params = new URLSearchParams(location.search);
const next = params.get("next") || "/";
let challenge = null;

// What the page shows, as data: drawn by draw() in the current language.
const state = { status: "looking", containers: null, error: null, guidance: null };

function message(e) {
  if (e instanceof AgentError) return new AgentError(e.code, lang).message + (e.detail ? ` (${e.detail})` : "");
  const text = tr(GATEWAY[e.code] || GATEWAY.unexpected, lang);
  // A blocked account is told the operator's reason.
  if (e.code === "account_blocked" && e.reason) return `${text} ${tr(TEXT.blocked_reason, lang)} ${e.reason}`;
  return text;
}

/** Show a refusal: next to the certificate it concerns (scrolled to), else at the top. */
function fail(e, certificate = null) {
  state.error = { e, certificate };
  drawError();
}

function drawError() {
  const el = $("error");
  if (!state.error) {
    el.hidden = true;
    return;
  }
  const { e, certificate } = state.error;
  el.dataset.code = e.code || "unexpected";
  el.textContent = message(e);
  const anchor = certificate && document.querySelector(`li[data-certificate="${CSS.escape(certificate)}"]`);
  if (anchor) anchor.append(el);
  else $("status").after(el);
  el.hidden = false;
  el.scrollIntoView({ block: "center" });
  el.focus({ preventScroll: true });
}

async function answer(r) {
  const body = await r.json();
  if (!r.ok) throw Object.assign(new Error(body.error.message), body.error);
  return body;
}

async function newChallenge() {
  const r = await fetch("/auth/challenge", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ next }) });
  challenge = (await answer(r)).challenge;
  setTimeout(() => newChallenge().catch((e) => fail(e)), 240_000); // before it expires
}

function signIn(container, certificate) {
  state.error = null;
  drawError();
  // Synchronously inside the click: authenticate() opens the approval window first.
  const signing = agent.authenticate(challenge, { container, certificate });
  signing
    .then(async (result) => {
      const r = await fetch("/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ signature: result.signature }) });
      const body = await answer(r);
      location.href = body.choose_role ? `/auth/role?next=${encodeURIComponent(body.redirect)}` : body.redirect;
    })
    .catch((e) => {
      fail(e, certificate);
      newChallenge().catch((e2) => fail(e2));
    });
}

/** Why a certificate cannot sign in, before anyone clicks it (in the page's words), or null. */
function whyNot(cert, lang, now = new Date()) {
  if (!cert.can_sign) return tr(TEXT.encryption_only, lang);
  if (new Date(cert.not_after) < now) return `${tr(TEXT.expired_on, lang)} ${date(cert.not_after, lang)}`;
  if (new Date(cert.not_before) > now) return `${tr(TEXT.valid_from, lang)} ${date(cert.not_before, lang)}`;
  if (!cert.qualified_esign && cert.identity?.kind === "person") return tr(TEXT.not_qualified, lang);
  return null;
}

/** Where the key is, as a person says it: a file, a token «label», a removable disk «name». */
function mediumWords(container, lang) {
  const type = container.medium_type || (container.kind === "token" ? "token" : "file");
  const words = tr(TEXT[`medium_${type}`] || TEXT.medium_file, lang);
  return container.medium_name ? `${words} «${container.medium_name}»` : words;
}

/** Certificates a person may recognise as theirs: a person's signing and key-agreement
 * certificates, and an organisation's qualified seal. CA, OCSP-responder and time-stamping
 * certificates (an organisation's, not qualified as a seal) are never listed. */
function listable(cert) {
  const seal = (cert.qualified?.qc_types || []).includes("eseal");
  return !cert.service && (cert.purpose === "signing" || cert.purpose === "key_agreement") && (cert.identity?.kind === "person" || seal);
}

function drawList() {
  const list = $("certificates");
  // The error may sit inside a certificate's line: keep it in the page before clearing.
  $("status").after($("error"));
  list.textContent = "";
  if (!state.containers) return;
  const usable = [];
  const greyed = [];
  for (const c of state.containers) {
    for (const cert of c.certificates.filter(listable)) {
      const li = document.createElement("li");
      li.dataset.certificate = cert.id;
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.certificate = cert.id;
      b.textContent = cert.name;
      const small = document.createElement("small");
      const issuer = cert.issuer_org || cert.issuer_name || cert.issuer;
      small.textContent = `${issuer} · ${mediumWords(c, lang)} · ${tr(TEXT.valid_until, lang)} ${date(cert.not_after, lang)}`;
      b.append(small);
      const why = whyNot(cert, lang);
      if (why) {
        // Shown so the person knows the key is seen, but it cannot be chosen.
        b.disabled = true;
        b.classList.add("unusable");
        const reason = document.createElement("em");
        reason.className = "why-not";
        reason.textContent = why;
        b.append(reason);
        greyed.push(li);
      } else {
        b.addEventListener("click", () => signIn(c.id, cert.id));
        usable.push(li);
      }
      li.append(b);
    }
  }
  list.append(...usable, ...greyed);
  if (!usable.length) state.status = "none_usable";
}

function drawGuidance() {
  const g = $("guidance");
  g.textContent = "";
  g.hidden = !state.guidance;
  if (!state.guidance) return;
  g.dataset.code = state.guidanceCode;
  const p = document.createElement("p");
  p.textContent = tr(TEXT[state.guidance], lang);
  g.append(p);
  if (state.guidance !== "permission") {
    // Said once: what is wrong, where to get the agent, what to do then.
    const a = document.createElement("a");
    a.id = "download";
    a.href = document.body.dataset.download;
    a.target = "_blank";
    a.rel = "noopener";
    a.textContent = tr(TEXT.download, lang);
    const then = document.createElement("p");
    then.textContent = tr(TEXT.then_reload, lang);
    g.append(a, then);
  }
}

function draw() {
  apply(document, lang, (l) => {
    lang = l;
    agent.lang = l;
    remember(l);
    draw();
  });
  drawList();
  $("status").textContent = tr(TEXT[state.status], lang);
  $("status").hidden = state.guidance !== null;
  drawGuidance();
  drawError();
}

// The first time, the agent asks the person to approve this site in its own window: that
// window may only open inside a click, so the page asks for one.
function connect() {
  state.error = null;
  agent
    .containers()
    .then((containers) => {
      $("connect").hidden = true;
      state.status = "choose";
      state.containers = containers;
      draw();
    })
    .catch((e) => fail(e));
}

async function start() {
  $("signed-out").hidden = params.get("signed_out") !== "1";
  draw();
  try {
    await newChallenge();
    const info = await agent.info();
    if (info.origin_approved === false) {
      state.status = "approve_site";
      $("connect").hidden = false;
      draw();
      return;
    }
    state.status = "choose";
    state.containers = await agent.containers();
    draw();
  } catch (e) {
    const guidance = { agent_not_running: "agent_missing", agent_outdated: "outdated", permission_denied: "permission" }[e.code];
    if (guidance) {
      // One box says it all; no second error box repeating it.
      state.guidance = guidance;
      state.guidanceCode = e.code;
      draw();
    } else {
      fail(e);
    }
  }
}

$("connect").addEventListener("click", connect);
start();
