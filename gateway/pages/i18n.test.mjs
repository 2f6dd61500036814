// The pages' words: one language at a time, dates as each language writes them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { GATEWAY, TEXT, LANGS, date, pageLang, tr } from "./i18n.js";
import { roleLabel } from "./role.js";

test("the stored choice, then the server's pick, then Ukrainian", () => {
  assert.equal(pageLang("ru", "en"), "ru");
  assert.equal(pageLang(null, "en"), "en");
  assert.equal(pageLang("de", "fr"), "uk");
});

test("every text has all three languages, each its own", () => {
  for (const table of [GATEWAY, TEXT]) {
    for (const [key, words] of Object.entries(table)) {
      assert.equal(words.length, LANGS.length, key);
      assert.ok(words.every((w) => typeof w === "string" && w.length), key);
    }
  }
  assert.equal(tr(TEXT.sign_out, "ru"), "Выйти");
  assert.equal(tr(TEXT.sign_out, "xx"), "Вийти", "unknown languages read Ukrainian");
});

test("dates in the language's own way, never ISO", () => {
  assert.equal(date("2028-11-30T23:59:59Z", "uk"), "30.11.2028");
  assert.equal(date("2028-11-30T23:59:59Z", "ru"), "30.11.2028");
  assert.equal(date("2028-01-05T00:00:00Z", "en"), "5 Jan 2028");
});

test("a role is named in one language", () => {
  assert.equal(roleLabel({ role: "citizen" }, "uk"), "Громадянин");
  assert.equal(roleLabel({ role: "citizen" }, "en"), "Citizen");
  assert.equal(roleLabel({ role: "representative", organisation_name: "ТОВ «Брама Тест»" }, "ru"), "Представитель ТОВ «Брама Тест»");
});
