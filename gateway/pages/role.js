// Role choice after login: citizen, or representative of an organisation.

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

async function choose(next, role, organisation) {
  const r = await fetch("/auth/role", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role, organisation }) });
  if (r.ok) return (location.href = next);
  const e = document.getElementById("error");
  e.textContent = (await r.json()).error.message;
  e.hidden = false;
}

// The page itself (the tests import only `localNext`).
if (globalThis.document) {
  const next = localNext(new URLSearchParams(location.search).get("next") || "/", location.origin);
  const list = document.getElementById("roles");
  const me = await (await fetch("/auth/me")).json();
  for (const r of me.roles || []) {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.textContent = r.role === "citizen" ? "Громадянин / Citizen" : `Представник ${r.organisation_name || r.organisation} / Representative`;
    b.addEventListener("click", () => choose(next, r.role, r.organisation));
    li.append(b);
    list.append(li);
  }
}
