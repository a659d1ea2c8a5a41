// The Daily Relay's own page script: the topic chooser and the alert box's status line.
// Everything push-related goes through window.pushgate (static/pushgate.js); calls made before
// the snippet has loaded are queued on the array, as docs/embedding.md describes.
//
// The reader's choice is one tag, {topic: "sports"}: the model the snippet's docs and
// `pushgate send --tag topic=sports` already use, so "the sports readers" is one condition in
// every audience form ({"tags": {"topic": "sports"}}, the filter tags.topic eq "sports", the
// --tag flag, which sends strings), and `in` reaches several topics' readers at once. Its cost: one
// topic per reader. Booleans per topic ({sports: true, tech: true}) would allow several, but the
// shell's --tag could not name a boolean. No topic chosen: no topic tag (null deletes it).
window.pushgate = window.pushgate || [];

(() => {
  "use strict";
  const STORAGE_KEY = "relay:topic";
  const MESSAGES = {
    default: "Choose your topic, then press the button. Your browser will ask for permission.",
    unsubscribed: "Notifications are allowed but you are not subscribed.",
    subscribed: "You are subscribed. Change your topic any time.",
    denied: "Notifications are blocked for this site. Allow them in your browser's site settings to subscribe.",
  };

  function chosen() {
    const picked = document.querySelector('input[name="topic"]:checked');
    return { topic: picked ? picked.value : null };
  }

  function restore() {
    let saved = null;
    try { saved = localStorage.getItem(STORAGE_KEY); } catch (_) { saved = null; }
    const box = saved && document.querySelector(`input[name="topic"][value="${CSS.escape(saved)}"]`);
    if (box) box.checked = true;
  }

  function setStatus(text, tone) {
    const status = document.getElementById("alert-status");
    if (!status) return;
    status.textContent = text;
    status.dataset.tone = tone || "info";
  }

  function render(state) {
    const subscribe = document.getElementById("subscribe");
    const stop = document.getElementById("unsubscribe");
    if (!subscribe || !stop) return;
    subscribe.hidden = state === "subscribed";
    stop.hidden = state !== "subscribed";
    setStatus(state === "unsupported" ? window.pushgate.explain() : MESSAGES[state] || "", state === "denied" ? "error" : "info");
  }

  function onTopicChanged() {
    const tags = chosen();
    try { localStorage.setItem(STORAGE_KEY, tags.topic || ""); } catch (_) { /* private mode */ }
    window.pushgate.push(["setTags", tags]);
  }

  function start() {
    restore();
    for (const box of document.querySelectorAll('input[name="topic"]')) box.addEventListener("change", onTopicChanged);
    window.addEventListener("pushgate:state", (event) => render(event.detail.state));
    window.addEventListener("pushgate:error", (event) => setStatus(`Could not subscribe: ${event.detail.message} (${event.detail.code})`, "error"));
    // Before the first subscription the snippet only remembers the tags; it sends them on subscribe.
    // The snippet may have announced its state before this script listened: ask once more.
    window.pushgate.push(async (pg) => {
      const state = await pg.state();
      render(state);
      if (state !== "subscribed") pg.setTags(chosen());
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
