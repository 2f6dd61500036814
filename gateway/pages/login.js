// The gateway's login page: find the agent, list signing certificates, and sign in.
// The challenge is fetched before the click, so the click can open the agent's approval
// window synchronously (a window opened after an `await` is blocked).
import { BramaAgent, AgentError } from "/auth/brama-agent.js";

const GATEWAY = {
  wrong_origin: ["Підпис зроблено для іншого сайту.", "The signature was made for another site."],
  challenge_expired: ["Час на вхід вичерпано. Спробуйте ще раз.", "The sign-in took too long. Please try again."],
  challenge_replayed: ["Цей підпис уже використано. Спробуйте ще раз.", "This signature was already used. Please try again."],
  challenge_invalid: ["Запит на вхід недійсний. Оновіть сторінку.", "The sign-in request is invalid. Reload the page."],
  challenge_wrong_browser: ["Вхід розпочато в іншому браузері. Оновіть сторінку.", "The sign-in started in another browser. Reload the page."],
  certificate_expired: ["Строк дії сертифіката минув. Отримайте новий у свого надавача послуг.", "The certificate has expired. Get a new one from your provider."],
  certificate_not_yet_valid: ["Сертифікат ще не набрав чинності.", "The certificate is not valid yet."],
  certificate_revoked: ["Сертифікат відкликано.", "The certificate has been revoked."],
  revocation_unavailable: ["Не вдалося перевірити, чи сертифікат не відкликано (сервіс центру сертифікації недоступний). Спробуйте за кілька хвилин.", "The certificate's revocation status could not be checked (the certificate authority's service is unavailable). Try again in a few minutes."],
  untrusted_issuer: ["Сертифікат видав надавач послуг, якому портал не довіряє.", "The certificate was issued by a provider this portal does not trust."],
  not_qualified: ["Сертифікат не є кваліфікованим.", "The certificate is not qualified."],
  not_a_person: ["Це сертифікат організації (печатки), а не особи.", "This is an organisation's (seal) certificate, not a person's."],
  wrong_key_usage: ["Цей сертифікат не призначений для підпису.", "This certificate is not for signing."],
  weak_key: ["Ключ сертифіката застарілий і ненадійний.", "The certificate's key is too weak."],
  weak_algorithm: ["Сертифікат використовує застарілий алгоритм.", "The certificate uses an outdated algorithm."],
  bad_signature: ["Підпис не пройшов перевірку.", "The signature did not verify."],
  account_blocked: ["Обліковий запис заблоковано.", "The account is blocked."],
  forbidden_origin: ["Запит надіслано не зі сторінки порталу.", "The request did not come from the portal's page."],
  unsupported_algorithm: ["Ключ цього типу портал не підтримує. Скористайтеся ключем ДСТУ 4145, ECDSA або RSA.", "This portal does not support this key type. Use a DSTU 4145, ECDSA or RSA key."],
  rate_limited: ["Забагато спроб входу. Зачекайте хвилину.", "Too many sign-in attempts. Wait a minute."],
};

let lang = document.documentElement.lang === "en" ? "en" : "uk";
const $ = (id) => document.getElementById(id);
const text = (pair) => (lang === "en" ? pair[1] : pair[0]);
const agent = new BramaAgent({ base: document.body.dataset.agent, lang });
const next = new URLSearchParams(location.search).get("next") || "/";
let challenge = null;

function show(el, uk, en) {
  el.dataset.uk = uk;
  el.dataset.en = en;
  el.textContent = lang === "en" ? en : uk;
  el.hidden = false;
}

function fail(e) {
  const code = e.code || "unexpected";
  const msg = e instanceof AgentError ? e.message : GATEWAY[code] ? text(GATEWAY[code]) : e.message;
  const el = $("error");
  el.dataset.code = code;
  el.textContent = msg + (e.detail ? ` (${e.detail})` : "");
  el.hidden = false;
}

async function newChallenge() {
  const r = await fetch("/auth/challenge", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ next }) });
  const body = await r.json();
  if (!r.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code });
  challenge = body.challenge;
  setTimeout(() => newChallenge().catch(fail), 240_000); // before it expires
}

function signIn(container, certificate) {
  $("error").hidden = true;
  // Synchronously inside the click: authenticate() opens the approval window first.
  const signing = agent.authenticate(challenge, { container, certificate });
  signing
    .then(async (result) => {
      const r = await fetch("/auth/login", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ signature: result.signature }) });
      const body = await r.json();
      if (!r.ok) throw Object.assign(new Error(body.error.message), { code: body.error.code });
      location.href = body.choose_role ? `/auth/role?next=${encodeURIComponent(body.redirect)}` : body.redirect;
    })
    .catch((e) => {
      fail(e);
      newChallenge().catch(fail);
    });
}

/** Why a certificate cannot sign in, before anyone clicks it: [uk, en], or null when it can. */
function whyNot(cert, now = new Date()) {
  const date = (iso) => iso.slice(0, 10).split("-").reverse().join(".");
  if (!cert.can_sign) return ["лише для шифрування, не для підпису", "for encryption only, not for signing"];
  if (new Date(cert.not_after) < now) return [`строк дії минув ${date(cert.not_after)}`, `expired on ${date(cert.not_after)}`];
  if (new Date(cert.not_before) > now) return [`чинний лише з ${date(cert.not_before)}`, `valid only from ${date(cert.not_before)}`];
  if (!cert.qualified_esign && cert.identity?.kind === "person") return ["не кваліфікований", "not qualified"];
  return null;
}

/** Certificates a person may recognise as theirs: a person's signing and key-agreement
 * certificates, and an organisation's qualified seal. CA, OCSP-responder and time-stamping
 * certificates (an organisation's, not qualified as a seal) are never listed. */
function listable(cert) {
  const seal = (cert.qualified?.qc_types || []).includes("eseal");
  return !cert.service && (cert.purpose === "signing" || cert.purpose === "key_agreement") && (cert.identity?.kind === "person" || seal);
}

function render(containers) {
  const list = $("certificates");
  list.textContent = "";
  const usable = [];
  const greyed = [];
  for (const c of containers) {
    for (const cert of c.certificates.filter(listable)) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.dataset.certificate = cert.id;
      b.textContent = cert.name;
      const small = document.createElement("small");
      small.textContent = `${cert.issuer_name || cert.issuer} · ${c.label} (${c.medium}) · ${cert.not_after.slice(0, 10)}`;
      b.append(small);
      const why = whyNot(cert);
      if (why) {
        // Shown so the person knows the key is seen, but it cannot be chosen.
        b.disabled = true;
        b.classList.add("unusable");
        const reason = document.createElement("em");
        reason.className = "why-not";
        reason.dataset.uk = why[0];
        reason.dataset.en = why[1];
        reason.textContent = text(why);
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
  if (!usable.length) show($("status"), "На носіях не знайдено сертифікатів, якими можна увійти.", "No certificate that can sign in was found.");
}

// The first time, the agent asks the person to approve this site in its own window: that
// window may only open inside a click, so the page asks for one.
function connect() {
  $("error").hidden = true;
  agent
    .containers()
    .then((containers) => {
      $("connect").hidden = true;
      show($("status"), "Оберіть сертифікат для входу.", "Choose a certificate to sign in.");
      render(containers);
    })
    .catch(fail);
}

async function start() {
  try {
    await newChallenge();
    const info = await agent.info();
    if (info.origin_approved === false) {
      show($("status"), "Агент підпису знайдено. Дозвольте цьому сайту користуватися ним.", "The signing agent is running. Allow this site to use it.");
      $("connect").hidden = false;
      return;
    }
    show($("status"), "Оберіть сертифікат для входу.", "Choose a certificate to sign in.");
    render(await agent.containers());
  } catch (e) {
    fail(e);
    if (e.code === "agent_not_running" || e.code === "permission_denied" || e.code === "agent_outdated") {
      const g = $("guidance");
      g.hidden = false;
      g.innerHTML = "";
      const p = document.createElement("p");
      p.textContent = e.code === "permission_denied"
        ? text(["Дозвольте цьому сайту доступ до локальної мережі (значок у адресному рядку), потім оновіть сторінку.", "Allow this site local network access (icon in the address bar), then reload the page."])
        : text(["Запустіть агент: brama-agent serve — або встановіть його, потім оновіть сторінку.", "Start the agent: brama-agent serve — or install it, then reload the page."]);
      g.append(p);
      show($("status"), "Агент підпису недоступний.", "The signing agent is not available.");
    }
  }
}

$("connect").addEventListener("click", connect);
$("lang").addEventListener("click", () => {
  lang = lang === "en" ? "uk" : "en";
  agent.lang = lang;
  document.documentElement.lang = lang;
  $("lang").textContent = lang === "en" ? "Українська" : "English";
  for (const el of document.querySelectorAll("[data-uk]")) el.textContent = lang === "en" ? el.dataset.en : el.dataset.uk;
  const err = $("error");
  if (!err.hidden && err.dataset.code) fail({ code: err.dataset.code, message: err.textContent });
});

start();
