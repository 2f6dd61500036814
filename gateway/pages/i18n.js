// The words of the gateway's pages, in Ukrainian, English and Russian, one language at a time.
// GATEWAY holds a message for every error code the gateway answers (a Rust test walks its
// error enums against this table); TEXT the pages' own words. Each entry is [uk, en, ru].

export const LANGS = ["uk", "en", "ru"];
export const NAMES = { uk: "Українська", en: "English", ru: "Русский" };

export const GATEWAY = {
  // The login statement and its envelope.
  too_large: ["Підпис завеликий.", "The signature is too large.", "Подпись слишком велика."],
  malformed_signature: ["Підпис пошкоджено або створено не в тому форматі. Спробуйте ще раз.", "The signature is damaged or in the wrong format. Please try again.", "Подпись повреждена или создана не в том формате. Попробуйте ещё раз."],
  signer_count: ["Підпис має містити рівно одного підписувача.", "The signature must have exactly one signer.", "Подпись должна содержать ровно одного подписанта."],
  wrong_content_type: ["Підписано не запит на вхід, а інший документ.", "What was signed is not a sign-in request but another document.", "Подписан не запрос на вход, а другой документ."],
  content_missing: ["У підписі немає підписаного запиту на вхід.", "The signature does not contain the signed sign-in request.", "В подписи нет подписанного запроса на вход."],
  bad_statement: ["Запит на вхід у підписі пошкоджено. Спробуйте ще раз.", "The sign-in request inside the signature is damaged. Please try again.", "Запрос на вход в подписи повреждён. Попробуйте ещё раз."],
  wrong_origin: ["Підпис зроблено для іншого сайту.", "The signature was made for another site.", "Подпись сделана для другого сайта."],
  challenge_invalid: ["Запит на вхід недійсний. Оновіть сторінку.", "The sign-in request is invalid. Reload the page.", "Запрос на вход недействителен. Обновите страницу."],
  challenge_expired: ["Час на вхід вичерпано. Спробуйте ще раз.", "The sign-in took too long. Please try again.", "Время на вход истекло. Попробуйте ещё раз."],
  challenge_wrong_browser: ["Вхід розпочато в іншому браузері. Оновіть сторінку.", "The sign-in started in another browser. Reload the page.", "Вход начат в другом браузере. Обновите страницу."],
  challenge_replayed: ["Цей підпис уже використано. Спробуйте ще раз.", "This signature was already used. Please try again.", "Эта подпись уже использована. Попробуйте ещё раз."],
  bad_signature: ["Підпис не пройшов перевірку.", "The signature did not verify.", "Подпись не прошла проверку."],
  signer_certificate_missing: ["У підписі немає сертифіката підписувача. Спробуйте інший носій або оновіть агент.", "The signature does not carry the signer's certificate. Try another medium or update the agent.", "В подписи нет сертификата подписанта. Попробуйте другой носитель или обновите агент."],
  signer_certificate_mismatch: ["Сертифікат у підписі не відповідає ключу, яким підписано.", "The certificate in the signature does not match the key that signed.", "Сертификат в подписи не соответствует ключу, которым подписано."],
  // The certificate.
  certificate_expired: ["Строк дії сертифіката минув. Отримайте новий у свого надавача послуг.", "The certificate has expired. Get a new one from your provider.", "Срок действия сертификата истёк. Получите новый у своего поставщика услуг."],
  certificate_not_yet_valid: ["Сертифікат ще не набрав чинності.", "The certificate is not valid yet.", "Сертификат ещё не вступил в силу."],
  certificate_revoked: ["Сертифікат відкликано. Зверніться до свого надавача послуг.", "The certificate has been revoked. Contact your provider.", "Сертификат отозван. Обратитесь к своему поставщику услуг."],
  revocation_unavailable: ["Не вдалося перевірити, чи сертифікат не відкликано (сервіс центру сертифікації недоступний). Спробуйте за кілька хвилин.", "The certificate's revocation status could not be checked (the certificate authority's service is unavailable). Try again in a few minutes.", "Не удалось проверить, не отозван ли сертификат (сервис центра сертификации недоступен). Попробуйте через несколько минут."],
  untrusted_issuer: ["Сертифікат видав надавач послуг, якому портал не довіряє.", "The certificate was issued by a provider this portal does not trust.", "Сертификат выдан поставщиком услуг, которому портал не доверяет."],
  invalid_chain: ["Ланцюжок сертифікатів до центру сертифікації недійсний. Зверніться до свого надавача послуг.", "The certificate chain to the certificate authority is invalid. Contact your provider.", "Цепочка сертификатов до центра сертификации недействительна. Обратитесь к своему поставщику услуг."],
  unhandled_critical_extension: ["Сертифікат містить обов'язкове розширення, яке портал не підтримує.", "The certificate has a critical extension this portal does not support.", "Сертификат содержит обязательное расширение, которое портал не поддерживает."],
  wrong_key_usage: ["Цей сертифікат не призначений для підпису.", "This certificate is not for signing.", "Этот сертификат не предназначен для подписи."],
  weak_key: ["Ключ сертифіката застарілий і ненадійний.", "The certificate's key is too weak.", "Ключ сертификата устарел и ненадёжен."],
  weak_algorithm: ["Сертифікат використовує застарілий алгоритм.", "The certificate uses an outdated algorithm.", "Сертификат использует устаревший алгоритм."],
  unsupported_algorithm: ["Ключ цього типу портал не підтримує. Скористайтеся ключем ДСТУ 4145, ECDSA або RSA.", "This portal does not support this key type. Use a DSTU 4145, ECDSA or RSA key.", "Ключ этого типа портал не поддерживает. Воспользуйтесь ключом ДСТУ 4145, ECDSA или RSA."],
  policy_not_allowed: ["Портал не приймає сертифікати з такою політикою. Потрібен кваліфікований сертифікат.", "This portal does not accept certificates under this policy. A qualified certificate is needed.", "Портал не принимает сертификаты с такой политикой. Нужен квалифицированный сертификат."],
  not_qualified: ["Сертифікат не є кваліфікованим.", "The certificate is not qualified.", "Сертификат не является квалифицированным."],
  not_a_person: ["Це сертифікат організації (печатки), а не особи.", "This is an organisation's (seal) certificate, not a person's.", "Это сертификат организации (печати), а не лица."],
  ambiguous_identity: ["Сертифікат містить два різні податкові номери. Зверніться до свого надавача послуг.", "The certificate names two different tax numbers. Contact your provider.", "Сертификат содержит два разных налоговых номера. Обратитесь к своему поставщику услуг."],
  // The account and the gateway.
  account_blocked: ["Обліковий запис заблоковано.", "The account is blocked.", "Учётная запись заблокирована."],
  rate_limited: ["Забагато спроб входу. Зачекайте хвилину.", "Too many sign-in attempts. Wait a minute.", "Слишком много попыток входа. Подождите минуту."],
  internal_error: ["Портал не зміг завершити вхід. Спробуйте ще раз.", "The portal could not complete the sign-in. Please try again.", "Портал не смог завершить вход. Попробуйте ещё раз."],
  forbidden_origin: ["Запит надіслано не зі сторінки порталу.", "The request did not come from the portal's page.", "Запрос отправлен не со страницы портала."],
  bad_request: ["Некоректний запит. Оновіть сторінку.", "Invalid request. Reload the page.", "Некорректный запрос. Обновите страницу."],
  not_signed_in: ["Спершу увійдіть.", "Sign in first.", "Сначала войдите."],
  role_not_allowed: ["Цей обліковий запис не має такої ролі.", "This account does not hold that role.", "У этой учётной записи нет такой роли."],
  bad_path: ["Неправильна адреса сторінки.", "The page address is invalid.", "Неправильный адрес страницы."],
  backend_unavailable: ["Кабінет тимчасово недоступний. Спробуйте за хвилину.", "The cabinet is not answering. Try again in a minute.", "Кабинет временно недоступен. Попробуйте через минуту."],
  backend_timeout: ["Кабінет не відповів вчасно. Спробуйте ще раз.", "The cabinet took too long to answer. Please try again.", "Кабинет не ответил вовремя. Попробуйте ещё раз."],
  ambiguous_framing: ["Браузер надіслав некоректний запит. Оновіть сторінку.", "The browser sent a malformed request. Reload the page.", "Браузер отправил некорректный запрос. Обновите страницу."],
  unexpected: ["Неочікувана відповідь. Оновіть сторінку.", "Unexpected answer. Reload the page.", "Неожиданный ответ. Обновите страницу."],
};

export const TEXT = {
  login_title: ["Вхід за кваліфікованим електронним підписом", "Sign in with a qualified electronic signature", "Вход по квалифицированной электронной подписи"],
  looking: ["Шукаємо агент підпису Brama…", "Looking for the Brama signing agent…", "Ищем агент подписи Brama…"],
  connect: ["Підключити агент підпису", "Connect the signing agent", "Подключить агент подписи"],
  choose: ["Оберіть сертифікат для входу.", "Choose a certificate to sign in.", "Выберите сертификат для входа."],
  none_usable: ["На носіях не знайдено сертифікатів, якими можна увійти.", "No certificate that can sign in was found.", "На носителях не найдено сертификатов, которыми можно войти."],
  approve_site: ["Агент підпису знайдено. Дозвольте цьому сайту користуватися ним.", "The signing agent is running. Allow this site to use it.", "Агент подписи найден. Разрешите этому сайту пользоваться им."],
  agent_missing: ["Агент підпису Brama не запущено або не встановлено на цьому комп'ютері.", "The Brama signing agent is not running or not installed on this computer.", "Агент подписи Brama не запущен или не установлен на этом компьютере."],
  download: ["Завантажити й встановити агент", "Download and install the agent", "Скачать и установить агент"],
  then_reload: ["Після встановлення оновіть цю сторінку.", "Once it is installed, reload this page.", "После установки обновите эту страницу."],
  permission: ["Дозвольте цьому сайту доступ до локальної мережі (значок у адресному рядку), потім оновіть сторінку.", "Allow this site local network access (the icon in the address bar), then reload the page.", "Разрешите этому сайту доступ к локальной сети (значок в адресной строке), затем обновите страницу."],
  outdated: ["Версія агента застаріла: встановіть нову.", "The agent is outdated: install the new version.", "Версия агента устарела: установите новую."],
  signed_out: ["Ви вийшли. Щоб повернутися, увійдіть знову.", "You have signed out. Sign in again to come back.", "Вы вышли. Чтобы вернуться, войдите снова."],
  blocked_reason: ["Причина:", "Reason:", "Причина:"],
  medium_file: ["файл", "file", "файл"],
  medium_token: ["токен", "token", "токен"],
  medium_removable: ["знімний диск", "removable disk", "съёмный диск"],
  valid_until: ["дійсний до", "valid until", "действителен до"],
  expired_on: ["строк дії минув", "expired on", "срок действия истёк"],
  valid_from: ["чинний лише з", "valid only from", "действителен только с"],
  encryption_only: ["лише для шифрування, не для підпису", "for encryption only, not for signing", "только для шифрования, не для подписи"],
  not_qualified: ["не кваліфікований", "not qualified", "не квалифицированный"],
  role_title: ["Оберіть роль", "Choose a role", "Выберите роль"],
  citizen: ["Громадянин", "Citizen", "Гражданин"],
  representative: ["Представник", "Representative of", "Представитель"],
  sign_out: ["Вийти", "Sign out", "Выйти"],
  agent_title: ["Агент підпису Brama", "The Brama signing agent", "Агент подписи Brama"],
  agent_what: ["Агент працює на вашому комп'ютері: знаходить ваші ключі (файли, токени, знімні диски) і підписує лише те, що ви підтвердите в його власному вікні.", "The agent runs on your computer: it finds your keys (files, tokens, removable disks) and signs only what you approve in its own window.", "Агент работает на вашем компьютере: находит ваши ключи (файлы, токены, съёмные диски) и подписывает только то, что вы подтвердите в его собственном окне."],
  agent_password: ["Пароль до ключа ви вводите лише у вікні агента, ніколи на сторінці сайту.", "You type the key's password only in the agent's window, never on a website's page.", "Пароль к ключу вы вводите только в окне агента, никогда на странице сайта."],
  agent_how: ["Як встановити", "How to install", "Как установить"],
  agent_step_get: ["Отримайте агент для своєї системи: у службі підтримки порталу або зберіть його з вихідного коду Brama (cargo install --path agent).", "Get the agent for your system: from the portal's support, or build it from Brama's source (cargo install --path agent).", "Получите агент для своей системы: в службе поддержки портала или соберите его из исходного кода Brama (cargo install --path agent)."],
  agent_step_run: ["Запустіть його:", "Start it:", "Запустите его:"],
  agent_step_back: ["Поверніться на сторінку входу й оновіть її.", "Go back to the sign-in page and reload it.", "Вернитесь на страницу входа и обновите её."],
  agent_back: ["До сторінки входу", "Back to sign-in", "К странице входа"],
};

/** The page's language: the person's last choice on this site, else the one the server
 * picked from Accept-Language (the `<html lang>`), else Ukrainian. */
export function pageLang(stored, htmlLang) {
  for (const l of [stored, htmlLang]) if (LANGS.includes(l)) return l;
  return "uk";
}

/** The text of `entry` ([uk, en, ru]) in `lang`. */
export function tr(entry, lang) {
  return entry[Math.max(0, LANGS.indexOf(lang))];
}

/** A date (ISO 8601) as `lang` writes it: 30.11.2028, or 30 Nov 2028 in English. */
export function date(iso, lang) {
  const [y, m, d] = String(iso).slice(0, 10).split("-");
  if (!d) return String(iso);
  if (lang === "en") return `${Number(d)} ${"Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(" ")[Number(m) - 1]} ${y}`;
  return `${d}.${m}.${y}`;
}

/** Fill every `[data-t]` element with its TEXT in `lang`, set `<html lang>`, and draw the
 * switch (`#lang`: buttons for the other languages; `onSwitch` gets the new one). */
export function apply(doc, lang, onSwitch) {
  doc.documentElement.lang = lang;
  for (const el of doc.querySelectorAll("[data-t]")) if (TEXT[el.dataset.t]) el.textContent = tr(TEXT[el.dataset.t], lang);
  const nav = doc.getElementById("lang");
  if (!nav) return;
  nav.textContent = "";
  for (const other of LANGS.filter((l) => l !== lang)) {
    const b = doc.createElement("button");
    b.type = "button";
    b.lang = other;
    b.textContent = NAMES[other];
    b.addEventListener("click", () => onSwitch(other));
    nav.append(b);
  }
}

/** Remember the person's choice on this site (no cookie: it never leaves the browser). */
export function remember(lang) {
  try {
    globalThis.localStorage?.setItem("brama-lang", lang);
  } catch {
    // Storage off (private mode): the choice lasts for this page only.
  }
}

export function stored() {
  try {
    return globalThis.localStorage?.getItem("brama-lang") || null;
  } catch {
    return null;
  }
}
