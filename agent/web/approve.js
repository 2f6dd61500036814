// Enables the approval buttons after a short delay (a click-jacking guard), and closes the
// window once the request is finished.
for (const group of document.querySelectorAll(".buttons[data-delay]")) {
  const delay = Number(group.dataset.delay) || 0;
  setTimeout(() => {
    group.querySelectorAll("button").forEach((b) => (b.disabled = false));
    // The hint explains the wait; once the buttons work it is gone.
    document.querySelectorAll("[data-hint]").forEach((h) => (h.hidden = true));
  }, delay);
}
if (document.querySelector("[data-close]")) {
  setTimeout(() => window.close(), 1500);
}
// The page that asked cannot see this window close (Cross-Origin-Opener-Policy severs it), so
// the window says so itself when it goes away without a decision.
const form = document.querySelector("form[action^='/ui/approve/']");
if (form) {
  // A decision, or the same page opened again in another language: neither is a close.
  let staying = false;
  form.addEventListener("submit", () => (staying = true));
  for (const a of document.querySelectorAll("nav.lang a")) a.addEventListener("click", () => (staying = true));
  addEventListener("pagehide", () => {
    if (staying) return;
    const token = form.querySelector("input[name=csrf_token]").value;
    navigator.sendBeacon(`${form.getAttribute("action")}/closed`, new URLSearchParams({ csrf_token: token }));
  });
}
