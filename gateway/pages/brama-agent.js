// brama-agent.js — the browser client of the Brama signing agent (dependency-free ES module).
//
//   import { BramaAgent } from "/auth/brama-agent.js";
//   const agent = new BramaAgent({ lang: "uk" });
//   await agent.info();                       // agent running? permission? version?
//   const list = await agent.containers();    // may open the agent's approval window
//   button.onclick = async () => {            // must run inside the user's click:
//     const { signature } = await agent.authenticate(challenge, { container, certificate });
//   };
//
// Why the shape: Chromium 142+ asks before a public page may reach a loopback address, and a
// denied permission looks exactly like a stopped agent (a failed fetch); so a failed fetch is
// told apart with navigator.permissions. The approval window is opened synchronously in the
// click (a popup opened after an `await` is blocked), then pointed at the agent's page.

export const API_VERSION = 1;
export const DEFAULT_BASE = "http://127.0.0.1:47560";

/** Human messages for every code: [Ukrainian, English, Russian]. */
export const MESSAGES = {
  agent_not_running: ["Агент підпису Brama не запущено або не встановлено.", "The Brama signing agent is not running or not installed.", "Агент подписи Brama не запущен или не установлен."],
  permission_denied: ["Браузер не дозволяє цій сторінці звертатися до агента підпису. Дозвольте доступ до локальної мережі в налаштуваннях сайту.", "The browser does not let this page reach the signing agent. Allow local network access in the site settings.", "Браузер не разрешает этой странице обращаться к агенту подписи. Разрешите доступ к локальной сети в настройках сайта."],
  agent_outdated: ["Версія агента Brama застаріла. Оновіть агент.", "The Brama agent is outdated. Please update it.", "Версия агента Brama устарела. Обновите агент."],
  popup_blocked: ["Браузер заблокував вікно підтвердження. Дозвольте спливні вікна для цього сайту й спробуйте ще раз.", "The browser blocked the approval window. Allow pop-ups for this site and try again.", "Браузер заблокировал окно подтверждения. Разрешите всплывающие окна для этого сайта и попробуйте ещё раз."],
  approval_window_closed: ["Вікно підтвердження закрито до завершення.", "The approval window was closed before finishing.", "Окно подтверждения закрыто до завершения."],
  timeout: ["Час очікування вичерпано. Спробуйте ще раз.", "Timed out. Please try again.", "Время ожидания истекло. Попробуйте ещё раз."],
  bad_host: ["Агент відхилив запит (невідома адреса).", "The agent refused the request (unknown address).", "Агент отклонил запрос (неизвестный адрес)."],
  foreign_user: ["Агент належить іншому користувачеві комп'ютера.", "The agent belongs to another user of this computer.", "Агент принадлежит другому пользователю компьютера."],
  origin_not_allowed: ["Цей сайт не може користуватися агентом підпису.", "This site may not use the signing agent.", "Этот сайт не может пользоваться агентом подписи."],
  origin_required: ["Запит без зазначення сайту відхилено.", "A request without its site was refused.", "Запрос без указания сайта отклонён."],
  origin_denied: ["Ви відхилили запит цього сайту. Спробуйте трохи згодом.", "You denied this site's request. Try again a little later.", "Вы отклонили запрос этого сайта. Попробуйте немного позже."],
  csrf_refused: ["Підтвердження надіслано не зі сторінки агента.", "The approval did not come from the agent's page.", "Подтверждение отправлено не со страницы агента."],
  unknown_container: ["Носій ключа не знайдено. Можливо, його від'єднано.", "The key container was not found. It may have been removed.", "Носитель ключа не найден. Возможно, он отключён."],
  unknown_certificate: ["Сертифікат не знайдено на носії.", "The certificate was not found in the container.", "Сертификат не найден на носителе."],
  choose_certificate: ["У ключі кілька сертифікатів для підпису: оберіть один у вікні агента.", "The key has several signing certificates: choose one in the agent's window.", "В ключе несколько сертификатов для подписи: выберите один в окне агента."],
  not_for_signing: ["Цей сертифікат не призначений для підпису (наприклад, це сертифікат шифрування).", "This certificate is not for signing (it may be the encryption certificate).", "Этот сертификат не предназначен для подписи (например, это сертификат шифрования)."],
  needs_unlock: ["Потрібен пароль до ключа.", "The key's password is needed.", "Нужен пароль к ключу."],
  wrong_password: ["Неправильний пароль до ключа.", "Wrong key password.", "Неверный пароль к ключу."],
  locked_out: ["Забагато неправильних паролів. Ключ тимчасово заблоковано.", "Too many wrong passwords. The key is locked for a while.", "Слишком много неверных паролей. Ключ временно заблокирован."],
  pin_blocked: ["PIN-код токена заблоковано. Зверніться до свого надавача послуг.", "The token's PIN is blocked. Contact your provider.", "PIN-код токена заблокирован. Обратитесь к своему поставщику услуг."],
  token_unavailable: ["Токен недоступний: його модуль не відповідає. Перевірте, чи токен під'єднано, і спробуйте ще раз.", "The token is unavailable: its module does not answer. Check that the token is plugged in and try again.", "Токен недоступен: его модуль не отвечает. Проверьте, подключён ли токен, и попробуйте ещё раз."],
  container_busy: ["Ключ зараз використовується для іншого підпису.", "The key is busy with another signature.", "Ключ сейчас используется для другой подписи."],
  unknown_request: ["Запит не знайдено. Почніть знову.", "The request was not found. Please start again.", "Запрос не найден. Начните заново."],
  request_expired: ["Час на підтвердження вичерпано. Почніть знову.", "The approval time ran out. Please start again.", "Время на подтверждение истекло. Начните заново."],
  request_superseded: ["Цей запит замінено новішим.", "A newer request replaced this one.", "Этот запрос заменён более новым."],
  content_too_large: ["Документ завеликий для підпису.", "The document is too large to sign.", "Документ слишком велик для подписи."],
  login_statement_as_document: ["Агент не підписує такий вміст як документ.", "The agent will not sign this content as a document.", "Агент не подписывает такое содержимое как документ."],
  bad_request: ["Некоректний запит до агента.", "Invalid request to the agent.", "Некорректный запрос к агенту."],
  key_mismatch: ["Ключ не відповідає сертифікату.", "The key does not match the certificate.", "Ключ не соответствует сертификату."],
  container_unreadable: ["Не вдалося прочитати носій ключа.", "The key container could not be read.", "Не удалось прочитать носитель ключа."],
  too_many_requests: [
    "Забагато запитів чекають на вашу відповідь в агенті. Дайте відповідь на них або спробуйте пізніше.",
    "Too many requests are waiting for your answer in the agent. Answer them or try again later.",
    "Слишком много запросов ждут вашего ответа в агенте. Ответьте на них или попробуйте позже.",
  ],
  no_certificate: [
    "Не знайдено сертифіката для цього ключа: покладіть файл сертифіката поруч із ключем або виконайте brama-agent import-cert.",
    "No certificate for this key: put the certificate file beside the key or run brama-agent import-cert.",
    "Не найден сертификат для этого ключа: положите файл сертификата рядом с ключом или выполните brama-agent import-cert.",
  ],
  signing_failed: ["Не вдалося створити підпис.", "Signing failed.", "Не удалось создать подпись."],
  unexpected: ["Неочікувана відповідь агента.", "Unexpected answer from the agent.", "Неожиданный ответ агента."],
};

/** The languages of MESSAGES, in order. */
export const LANGS = ["uk", "en", "ru"];

/** The message for `code` in `lang` ("uk", "en" or "ru"; Ukrainian otherwise). */
export function message(code, lang = "uk") {
  const texts = MESSAGES[code] || MESSAGES.unexpected;
  return texts[Math.max(0, LANGS.indexOf(lang))];
}

export class AgentError extends Error {
  constructor(code, lang, extra = {}) {
    super(message(code, lang));
    this.name = "AgentError";
    this.code = code;
    Object.assign(this, extra);
  }
}

export class BramaAgent {
  /**
   * @param {object} [o]
   * @param {string} [o.base]       the agent's origin
   * @param {string} [o.lang]       "uk" (default), "en" or "ru"; the agent's window follows it
   * @param {number} [o.pollMs]     poll interval
   * @param {number} [o.timeoutMs]  give up waiting for the user after this long
   * Test seams: o.fetch, o.open, o.permissions, o.sleep.
   */
  constructor(o = {}) {
    this.base = o.base || DEFAULT_BASE;
    this.lang = o.lang || "uk";
    this.pollMs = o.pollMs ?? 500;
    this.timeoutMs = o.timeoutMs ?? 130000;
    this._fetch = o.fetch || globalThis.fetch.bind(globalThis);
    this._open = o.open || ((url) => globalThis.open(url, "brama-agent", "popup,width=520,height=680"));
    this._permissions = o.permissions || globalThis.navigator?.permissions;
    this._sleep = o.sleep || ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.lastInfo = null;
  }

  error(code, extra) {
    return new AgentError(code, this.lang, extra);
  }

  async _request(path, init = {}) {
    let response;
    try {
      response = await this._fetch(this.base + path, { ...init, mode: "cors", credentials: "omit" });
    } catch (_) {
      throw this.error(await this._unreachableCode());
    }
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      throw this.error("unexpected", { status: response.status });
    }
    if (response.status >= 400) {
      const e = body && body.error;
      throw this.error(e && MESSAGES[e.code] ? e.code : "unexpected", {
        status: response.status,
        retryAfter: e && e.retry_after,
        triesLeft: e && e.tries_left,
      });
    }
    return { status: response.status, body };
  }

  /** A failed fetch: permission denied, or no agent listening. */
  async _unreachableCode() {
    if (this._permissions && this._permissions.query) {
      for (const name of ["loopback-network", "local-network-access"]) {
        try {
          const status = await this._permissions.query({ name });
          if (status.state === "denied") return "permission_denied";
          break;
        } catch (_) {
          // This browser does not know this permission name: try the older one.
        }
      }
    }
    return "agent_not_running";
  }

  /** Is the agent there, new enough, and has it approved this page? The first call. */
  async info() {
    const { body } = await this._request("/v1/info");
    if (!body || body.name !== "brama-agent" || !(body.api_version >= API_VERSION)) {
      throw this.error("agent_outdated", { version: body && body.version });
    }
    this.lastInfo = body;
    return body;
  }

  /** Open the approval window now, inside the user's click; pointed at the agent later. */
  _openWindow() {
    const w = this._open("about:blank");
    if (!w) throw this.error("popup_blocked");
    return w;
  }

  async _awaitApproval(pending, win) {
    if (!win) win = this._openWindow();
    // The agent's window speaks the page's language.
    const sep = pending.approve_url.includes("?") ? "&" : "?";
    win.location.href = `${pending.approve_url}${sep}lang=${encodeURIComponent(this.lang)}`;
    const deadline = Date.now() + this.timeoutMs;
    while (Date.now() < deadline) {
      await this._sleep(this.pollMs);
      const { status, body } = await this._request(`/v1/requests/${encodeURIComponent(pending.request)}`);
      if (status === 200) return body.result;
      // Not `win.closed`: the agent's page sets Cross-Origin-Opener-Policy, which makes the
      // window look closed from here at once. The page tells the agent when it really closes,
      // and the poll then fails with approval_window_closed.
    }
    throw this.error("timeout");
  }

  async _pendingOrResult(path, init, win) {
    let first;
    try {
      first = await this._request(path, init);
    } catch (e) {
      if (win && !win.closed) win.close();
      throw e;
    }
    if (first.status === 202) return this._awaitApproval(first.body, win);
    if (win && !win.closed) win.close();
    return first.body;
  }

  /** The containers and their certificates. Opens the approval window if the origin is new. */
  async containers() {
    const win = this.lastInfo && this.lastInfo.origin_approved === false ? this._openWindow() : null;
    const result = await this._pendingOrResult("/v1/containers", {}, win);
    return result.containers;
  }

  /** A login statement for `challenge`, signed by the chosen certificate. Call it in a click. */
  async authenticate(challenge, { container, certificate } = {}) {
    const win = this._openWindow(); // synchronous: before any await
    return this._pendingOrResult("/v1/authenticate", json({ container, certificate, challenge }), win);
  }

  /**
   * A CAdES signature over a document (`content`: Uint8Array) or a hash (`hash`: Uint8Array,
   * `hashAlgorithm`). Call it in a click.
   */
  async sign({ container, certificate, name, content, detached = false, hash, hashAlgorithm } = {}) {
    const win = this._openWindow();
    const body = { container, certificate, name };
    if (content) Object.assign(body, { content: base64(content), detached });
    if (hash) Object.assign(body, { hash: base64(hash), hash_algorithm: hashAlgorithm || "sha256" });
    return this._pendingOrResult("/v1/sign", json(body), win);
  }
}

function json(body) {
  return { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) };
}

function base64(bytes) {
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}
