// Role choice after login: citizen, or representative of an organisation.
// Only a local path: the role page must not become an open redirect.
const asked = new URLSearchParams(location.search).get("next") || "/";
const next = /^\/(?![\/\\])/.test(asked) ? asked : "/";
const list = document.getElementById("roles");

async function choose(role, organisation) {
  const r = await fetch("/auth/role", { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ role, organisation }) });
  if (r.ok) return (location.href = next);
  const e = document.getElementById("error");
  e.textContent = (await r.json()).error.message;
  e.hidden = false;
}

const me = await (await fetch("/auth/me")).json();
for (const r of me.roles || []) {
  const li = document.createElement("li");
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = r.role === "citizen" ? "Громадянин / Citizen" : `Представник ${r.organisation_name || r.organisation} / Representative`;
  b.addEventListener("click", () => choose(r.role, r.organisation));
  li.append(b);
  list.append(li);
}
