// Enables the approval buttons after a short delay (a click-jacking guard), and closes the
// window once the request is finished.
for (const group of document.querySelectorAll(".buttons[data-delay]")) {
  const delay = Number(group.dataset.delay) || 0;
  setTimeout(() => group.querySelectorAll("button").forEach((b) => (b.disabled = false)), delay);
}
if (document.querySelector("[data-close]")) {
  setTimeout(() => window.close(), 1500);
}
