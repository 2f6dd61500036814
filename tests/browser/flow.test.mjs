// The whole sign-in flow in Debian's Chromium, driven by Playwright: the gateway's login page
// on one origin (told to Chromium as a public address), the signing agent on loopback, so CORS
// and Local Network Access are exercised for real, and popups are blocked as in a real browser.
// Each scenario ends with a screenshot in target/browser-screenshots/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = (name) => join(root, "target/debug", name);
const shots = join(root, "target/browser-screenshots");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";

let tmp, env, demo, agentProcess, browser, context;

function startAgent() {
  const config = join(tmp, "agent.toml");
  writeFileSync(
    config,
    `port = ${env.agent_port}\nhttps = false\ndata_dir = "${join(tmp, "agent-data")}"\ncontainers = ["${env.pki}", "${env.dstu_keys}"]\n` +
      `removable_media = false\ndev_mode = true\napproval_delay_ms = 300\n`,
  );
  agentProcess = spawn(bin("brama-agent"), ["--config", config, "serve"], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((ok, fail) => {
    agentProcess.stdout.once("data", ok);
    agentProcess.once("exit", (code) => fail(new Error(`brama-agent exited with ${code}`)));
  });
}

async function shot(page, name) {
  await page.screenshot({ path: join(shots, `${name}.png`), fullPage: true });
}

async function newPage(permission = "granted") {
  context = await browser.newContext({ locale: "uk-UA", viewport: { width: 900, height: 700 } });
  const page = await context.newPage();
  if (permission === "prompt") return page; // headless Chromium denies the prompt itself
  const cdp = await context.newCDPSession(page);
  const { targetInfo } = await cdp.send("Target.getTargetInfo");
  // Local Network Access: the public page may reach the loopback agent only with permission
  // (the name changed across Chromium versions; unknown names are refused by CDP).
  let set = 0;
  for (const name of ["local-network-access", "loopback-network", "local-network"]) {
    try {
      await cdp.send("Browser.setPermission", {
        permission: { name },
        setting: permission,
        origin: env.gateway,
        browserContextId: targetInfo.browserContextId,
      });
      set++;
    } catch (_) {
      // This Chromium does not know this permission name.
    }
  }
  assert.ok(set > 0, "Chromium accepted no Local Network Access permission name");
  return page;
}

/** Click `trigger` on `page`, approve in the agent's popup (typing `password` if asked). */
async function approveInPopup(page, trigger, password, { expectError } = {}) {
  const [popup] = await Promise.all([context.waitForEvent("page"), trigger()]);
  await popup.waitForURL(/\/ui\/approve\//);
  if (password !== undefined) await popup.fill("input[name=password]", password);
  await popup.locator("button[value=approve]:not([disabled])").waitFor();
  if (expectError) return popup;
  await popup.click("button[value=approve]");
  return popup;
}

before(async () => {
  mkdirSync(shots, { recursive: true });
  tmp = mkdtempSync(join(tmpdir(), "brama-browser-"));
  demo = spawn(bin("brama-demo"), ["--browser-env", join(tmp, "env")], { stdio: ["pipe", "pipe", "inherit"] });
  const line = await new Promise((ok, fail) => {
    createInterface({ input: demo.stdout }).once("line", ok);
    demo.once("exit", (code) => fail(new Error(`brama-demo exited with ${code}`)));
  });
  env = JSON.parse(line);
  const port = new URL(env.gateway).port;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    // Real popup blocking: the approval window must open inside a click.
    ignoreDefaultArgs: ["--disable-popup-blocking"],
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      `--ip-address-space-overrides=127.0.0.1:${port}=public`,
    ],
  });
});

after(async () => {
  await browser?.close();
  agentProcess?.kill();
  demo?.stdin.end();
  demo?.kill();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

test("1. no agent: the login page says so once, with where to get it", async () => {
  const page = await newPage();
  await page.goto(`${env.gateway}/cabinet`);
  assert.match(page.url(), /\/auth\/login\?next=%2Fcabinet/);
  await page.locator("#guidance").waitFor({ state: "visible" });
  assert.match(await page.textContent("#guidance"), /не запущено або не встановлено/);
  assert.equal(await page.locator("#status").isVisible(), false, "said once, not in two boxes");
  assert.equal(await page.locator("#error").isVisible(), false, "said once, not in two boxes");
  const download = page.locator("#download");
  assert.equal(await download.getAttribute("href"), "/auth/agent");
  await shot(page, "1-agent-not-running");
  // The default download page explains the agent, in the page's language.
  await page.goto(`${env.gateway}/auth/agent`);
  assert.equal(await page.textContent("h1"), "Агент підпису Brama");
  assert.match(await page.textContent("main"), /brama-agent serve/);
  await shot(page, "1b-agent-page");
  await context.close();
});

test("2. with the agent: approve the site, choose a certificate, approve with the password, greeted in the cabinet", async () => {
  await startAgent();
  const page = await newPage();
  await page.goto(`${env.gateway}/cabinet`);
  await page.locator("#connect").waitFor({ state: "visible" });
  await approveInPopup(page, () => page.click("#connect"));
  const mine = page.getByRole("button", { name: /Шевченко Тарас Григорович/, disabled: false });
  await mine.waitFor();
  await shot(page, "2a-certificates");
  const popup = await approveInPopup(page, () => mine.click(), env.password, { expectError: true });
  await shot(popup, "2b-approval-popup");
  // A person takes a few seconds: the page keeps waiting although the popup, isolated by
  // Cross-Origin-Opener-Policy, looks closed to it.
  await popup.waitForTimeout(2500);
  assert.equal(await page.locator("#error").isVisible(), false);
  await popup.click("button[value=approve]");
  await page.waitForURL(`${env.gateway}/cabinet`);
  assert.equal(await page.textContent("h1"), "Вітаємо, Тарас Шевченко!");
  assert.ok(await page.locator("#complete-profile").isVisible(), "a new account is asked to complete its profile");
  await shot(page, "2c-cabinet-first-login");
  await context.close();
});

test("3. a wrong password gets a clear message; the retry signs in", async () => {
  const page = await newPage();
  await page.goto(`${env.gateway}/auth/login?next=/cabinet`);
  // The site was approved in scenario 2, but this is a new browser context: approve again.
  const connect = page.locator("#connect");
  const mine = page.getByRole("button", { name: /Шевченко Тарас Григорович/, disabled: false });
  await Promise.race([connect.waitFor({ state: "visible" }), mine.waitFor()]);
  if (await connect.isVisible()) await approveInPopup(page, () => connect.click());
  await mine.waitFor();
  const popup = await approveInPopup(page, () => mine.click(), "not-the-password", { expectError: true });
  await popup.click("button[value=approve]");
  const error = popup.locator(".error");
  await error.waitFor();
  assert.match(await error.textContent(), /пароль/i);
  assert.equal(await error.getAttribute("data-code"), "wrong_password");
  await shot(popup, "3a-wrong-password");
  // The agent slows guessing down (a second after the first wrong password): a person retries.
  await popup.waitForTimeout(1500);
  await popup.fill("input[name=password]", env.password);
  await popup.locator("button[value=approve]:not([disabled])").waitFor();
  await popup.click("button[value=approve]");
  await page.waitForURL(`${env.gateway}/cabinet`);
  assert.equal(await page.textContent("h1"), "Вітаємо, Тарас Шевченко!");
  assert.equal(await page.locator("#complete-profile").count(), 0, "the profile prompt is for the first login only");
  await shot(page, "3b-signed-in-after-retry");
  await context.close();
});

/** A fresh browser at the login page with the certificate list shown. */
async function loginPage(next = "/cabinet") {
  const page = await newPage();
  await page.goto(`${env.gateway}/auth/login?next=${encodeURIComponent(next)}`);
  const connect = page.locator("#connect");
  const list = page.locator("#certificates button:not([disabled])").first();
  await Promise.race([connect.waitFor({ state: "visible" }), list.waitFor()]);
  if (await connect.isVisible()) await approveInPopup(page, () => connect.click());
  await list.waitFor();
  return page;
}

/** Choose the certificate of `holder` and approve with the password. */
async function signInAs(page, holder) {
  const button = page.getByRole("button", { name: new RegExp(holder), disabled: false });
  await button.waitFor();
  await approveInPopup(page, () => button.click(), env.password);
}

test("4. expired, revoked and untrusted certificates: the human message, in Ukrainian and in English", async () => {
  const page = await loginPage();
  // What the page can tell before the click (expired, not yet valid, not qualified, for
  // encryption only) is shown greyed with the reason and cannot be chosen.
  const expired = page.getByRole("button", { name: /Петренко Петро Петрович/ });
  assert.equal(await expired.isDisabled(), true);
  assert.match(await expired.locator(".why-not").textContent(), /строк дії минув \d\d\.\d\d\.\d{4}/);
  assert.equal(await page.getByRole("button", { name: /Мельник Олена Іванівна/ }).isDisabled(), true, "not yet valid");
  assert.equal(await page.getByRole("button", { name: /Ткаченко Ірина Миколаївна/ }).isDisabled(), true, "not qualified");
  assert.equal(await page.getByRole("button", { name: /OCSP Responder/ }).count(), 0, "service certificates are not listed");
  // The rest of the line: issuer's organisation, the medium in words, the validity as a date; no path.
  const line = await page.getByRole("button", { name: /Шевченко Тарас Григорович/, disabled: false }).locator("small").textContent();
  assert.match(line, /· файл · дійсний до \d\d\.\d\d\.\d{4}$/);
  assert.doesNotMatch(line, /\//, "no paths");
  await shot(page, "4-expired-uk");
  // One language at a time; the switch offers the other two.
  await page.click("#lang button[lang=en]");
  assert.match(await expired.locator(".why-not").textContent(), /expired on \d+ [A-Z][a-z]{2} \d{4}/);
  assert.equal(await page.textContent("h1"), "Sign in with a qualified electronic signature");
  await shot(page, "4-expired-en");
  await page.click("#lang button[lang=ru]");
  assert.match(await expired.locator(".why-not").textContent(), /срок действия истёк/);
  assert.equal(await page.evaluate(() => document.documentElement.lang), "ru");
  await shot(page, "4-expired-ru");
  await page.click("#lang button[lang=uk]");
  // What only the gateway knows is told after the signature.
  const cases = [
    ["revoked", "Бондар Андрій Васильович", "certificate_revoked", "Сертифікат відкликано", "The certificate has been revoked"],
    ["untrusted", "Олійник Наталія Сергіївна", "untrusted_issuer", "якому портал не довіряє", "does not trust"],
  ];
  const error = page.locator("#error");
  for (const [name, holder, code, uk, en] of cases) {
    await signInAs(page, holder);
    await page.locator(`#error[data-code=${code}]`).waitFor();
    assert.match(await error.textContent(), new RegExp(uk));
    // Next to the certificate it concerns, and scrolled into view.
    assert.equal(await page.locator(`li:has(button:text("${holder}")) #error`).count(), 1, "the error sits by its certificate");
    assert.ok(await error.isVisible() && (await error.evaluate((el) => { const r = el.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight; })), "scrolled to");
    await shot(page, `4-${name}-uk`);
    await page.click("#lang button[lang=en]");
    assert.match(await error.textContent(), new RegExp(en));
    await shot(page, `4-${name}-en`);
    await page.click("#lang button[lang=uk]");
    assert.match(await error.textContent(), new RegExp(uk));
  }
  assert.match(page.url(), /\/auth\/login/, "still on the login page");
  await context.close();
});

test("5. an organisation's representative chooses the role, sees the organisation, and switches", async () => {
  const page = await loginPage();
  await signInAs(page, "Франко Іван Якович");
  await page.waitForURL(/\/auth\/role\?next=/);
  const representative = page.getByRole("button", { name: /Представник ТОВ «Брама Тест»/ });
  await representative.waitFor();
  assert.equal(await page.getByRole("button", { name: "Громадянин", exact: true }).count(), 1, "one language at a time");
  assert.equal(await page.getByRole("button", { name: "Вийти" }).count(), 1, "the role page can sign out");
  await shot(page, "5a-role-choice");
  await representative.click();
  await page.waitForURL(`${env.gateway}/cabinet`);
  assert.equal(await page.textContent("#role"), "Роль: представник ТОВ «Брама Тест» / Role: representative");
  await shot(page, "5b-cabinet-as-representative");
  await page.getByRole("link", { name: /Змінити роль/ }).click();
  await page.getByRole("button", { name: /Громадянин/ }).click();
  await page.waitForURL(`${env.gateway}/cabinet`);
  assert.match(await page.textContent("#role"), /Роль: громадянин/);
  await shot(page, "5c-cabinet-as-citizen");
  await context.close();
});

test("6. sign out: the cabinet asks for a sign-in again", async () => {
  const page = await loginPage();
  await signInAs(page, "Шевченко Тарас Григорович");
  await page.waitForURL(`${env.gateway}/cabinet`);
  await page.click("#logout");
  await page.waitForURL(/\/auth\/login\?signed_out=1$/);
  assert.equal(await page.textContent("#signed-out"), "Ви вийшли. Щоб повернутися, увійдіть знову.");
  await page.goto(`${env.gateway}/cabinet`);
  assert.match(page.url(), /\/auth\/login\?next=%2Fcabinet/);
  await page.locator("#certificates button").first().waitFor();
  await shot(page, "6-signed-out");
  await context.close();
});

test("7. Local Network Access left to the prompt (denied headless): the page says how to allow it", async () => {
  const page = await newPage("prompt");
  await page.goto(`${env.gateway}/auth/login`);
  await page.locator("#guidance").waitFor({ state: "visible" });
  assert.equal(await page.locator("#guidance").getAttribute("data-code"), "permission_denied");
  assert.match(await page.textContent("#guidance"), /доступ до локальної мережі/);
  await shot(page, "7-local-network-access-denied");
  await context.close();
});

test("8. a DSTU 4145 key (a Diia-style .p12, its certificate beside it): the approval names the key, the citizen is greeted", async () => {
  const page = await loginPage();
  const button = page.getByRole("button", { name: /Сковорода Григорій Савич/, disabled: false });
  await button.waitFor();
  const popup = await approveInPopup(page, () => button.click(), env.password, { expectError: true });
  const key = popup.locator("dd.key");
  assert.match(await key.textContent(), /DSTU 4145.*для підпису/);
  await shot(popup, "8a-dstu-approval");
  // The approval window in another language is the same request, not a closed window.
  await popup.click("nav.lang a[lang=en]");
  await popup.waitForURL(/\?lang=en$/);
  assert.match(await popup.locator("dd.key").textContent(), /DSTU 4145.*for signing/);
  assert.match(await popup.textContent("dd.validity"), /from \d+ [A-Z][a-z]{2} \d{4} until/);
  await shot(popup, "8b-dstu-approval-en");
  await popup.fill("input[name=password]", env.password);
  await popup.locator("button[value=approve]:not([disabled])").waitFor();
  await popup.click("button[value=approve]");
  await page.waitForURL(`${env.gateway}/cabinet`);
  assert.equal(await page.textContent("h1"), "Вітаємо, Григорій Сковорода!");
  await shot(page, "8c-dstu-cabinet");
  await context.close();
});
