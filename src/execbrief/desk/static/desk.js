// Polls the brief's state: shows a regenerate's progress, reloads when it ends, and warns
// when another tab (or the CLI) changed the revision this page shows.
"use strict";
(function () {
  const body = document.body;
  const url = body.dataset.stateUrl;
  if (!url) { return; }
  const shownRev = body.dataset.rev;
  let running = body.dataset.jobRunning === "1";
  const jobBox = document.getElementById("job");
  const stale = document.getElementById("stale");
  async function poll() {
    let state;
    try {
      const answer = await fetch(url, { credentials: "same-origin", cache: "no-store" });
      if (!answer.ok) { return; }
      state = await answer.json();
    } catch (_) { return; }
    const job = state.job;
    if (job && job.state === "running") {
      running = true;
      jobBox.hidden = false;
      jobBox.dataset.state = "running";
      jobBox.textContent = "Regenerating: " + job.step + "… " + job.seconds + "s";
    } else if (running) {
      window.location.reload();
      return;
    }
    const rev = state.rev === null ? "" : String(state.rev);
    if (rev !== shownRev) {
      stale.hidden = false;
      stale.textContent = "This draft is now rev " + rev + " (changed elsewhere): reload before acting; "
        + "an action on rev " + (shownRev || "none") + " will be refused.";
    }
  }
  window.setInterval(poll, running ? 500 : 2000);
  poll();
})();
