// The role page's redirect after the choice stays on the cabinet's origin.
import { test } from "node:test";
import assert from "node:assert/strict";
import { localNext } from "./role.js";

const origin = "https://cabinet.example";

test("local paths pass, with their query and fragment", () => {
  assert.equal(localNext("/cabinet", origin), "/cabinet");
  assert.equal(localNext("/cabinet/a?b=1#c", origin), "/cabinet/a?b=1#c");
  assert.equal(localNext("/", origin), "/");
});

test("anything that could leave the origin becomes /", () => {
  for (const evil of [
    "/\t/evil.example", // the browser drops the tab: //evil.example
    "/\n/evil.example",
    "/\r\n/evil.example",
    "//evil.example",
    "/\\evil.example",
    "\\\\evil.example",
    "https://evil.example/",
    "javascript:alert(1)",
    "evil.example",
    "",
    undefined,
  ]) {
    assert.equal(localNext(evil, origin), "/", JSON.stringify(evil));
  }
});
