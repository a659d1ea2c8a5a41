// The Daily Relay's own page script: the topic chooser and the alert box's status line.
// Everything push-related goes through window.pushgate (static/pushgate.js); calls made before
// the snippet has loaded are queued on the array, as docs/embedding.md describes.
//
// Tags: one boolean per topic, {politics: false, sports: true, tech: true}. A reader may follow
// several topics (a single "topic" string could hold only one), and "the sports readers" is then
// one condition: the audience {"tags": {"sports": true}}, or the filter
// {"field": "tags.sports", "op": "eq", "value": true}. Unchosen topics are stored as false, not
// left out, so "readers who turned sports off" can be told from readers who never chose.
window.pushgate = window.pushgate || [];

(() => {
  "use strict";
  const TOPICS = ["politics", "sports", "tech"];
  const STORAGE_KEY = "relay:topics";
  const MESSAGES = {
    default: "Choose your topics, then press the button. Your browser will ask for permission.",
    unsubscribed: "Notifications are allowed but you are not subscribed.",
    subscribed: "You are subscribed. Change topics any time.",
    denied: "Notifications are blocked for this site. Allow them in your browser's site settings to subscribe.",
  };

  function chosen() {
    const tags = {};
    for (const topic of TOPICS) {
      const box = document.querySelector(`input[name="topic"][value="${topic}"]`);
      tags[topic] = Boolean(box && box.checked);
    }
    return tags;
  }

  function restore() {
    let saved = null;
    try { saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null"); } catch (_) { saved = null; }
    if (!saved) return;
    for (const topic of TOPICS) {
      const box = document.querySelector(`input[name="topic"][value="${topic}"]`);
      if (box) box.checked = saved[topic] === true || saved[topic] === "yes"; // "yes": saved by v1
    }
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

  function onTopicsChanged() {
    const tags = chosen();
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(tags)); } catch (_) { /* private mode */ }
    window.pushgate.push(["setTags", tags]);
  }

  function start() {
    restore();
    for (const box of document.querySelectorAll('input[name="topic"]')) box.addEventListener("change", onTopicsChanged);
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
