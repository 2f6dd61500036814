// Role choice after login: citizen, or representative of an organisation.
import { GATEWAY, TEXT, apply, pageLang, remember, stored, tr } from "./i18n.js";

/**
 * The local path to go to after the choice, or "/". Only a path on `origin`: the role page must
 * not become an open redirect. Browsers drop tabs and newlines from URLs ("/\t/evil.example" is
 * "//evil.example"), so any control character or backslash is refused outright, and what is left
 * is parsed as the browser would and must stay on this origin.
 */
export function localNext(asked, origin) {
  if (typeof asked !== "string" || !asked.startsWith("/") || /[\u0000-\u001f\u007f\\]/.test(asked)) return "/";
  let url;
  try {
    url = new URL(asked, origin);
  } catch {
    return "/";
  }
  return url.origin === origin ? url.pathname + url.search + url.hash : "/";
}

async function choose(next, role, organisation, lang) {
  const r = await fetch("/auth/role", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role, organisation }) });
  if (r.ok) return (location.href = next);
  const code = (await r.json()).error?.code;
  const e = document.getElementById("error");
  e.dataset.code = code || "unexpected";
  e.textContent = tr(GATEWAY[code] || GATEWAY.unexpected, lang);
  e.hidden = false;
}

/** The button's words for a role, in `lang`. */
export function roleLabel(r, lang) {
  if (r.role === "citizen") return tr(TEXT.citizen, lang);
  return `${tr(TEXT.representative, lang)} ${r.organisation_name || r.organisation}`;
}

// The page itself (the tests import only the plain functions).
if (globalThis.document) {
  const next = localNext(new URLSearchParams(location.search).get("next") || "/", location.origin);
  let lang = pageLang(stored(), document.documentElement.lang);
  const me = await (await fetch("/auth/me")).json();
  const draw = () => {
    apply(document, lang, (l) => {
      lang = l;
      remember(l);
      draw();
    });
    const list = document.getElementById("roles");
    list.textContent = "";
    for (const r of me.roles || []) {
      const li = document.createElement("li");
      const b = document.createElement("button");
      b.type = "button";
      b.textContent = roleLabel(r, lang);
      b.addEventListener("click", () => choose(next, r.role, r.organisation, lang));
      li.append(b);
      list.append(li);
    }
  };
  draw();
}
