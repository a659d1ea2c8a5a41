// pushgate composer: progressive enhancement only (the form works without it, its Preview
// button asks the server). Redraws the three previews as the operator types, asks the server
// for the payload's size and the audience's count (POST with the session's CSRF token), and
// shows only the parts of the form that are chosen (audience, when, A/B test).
"use strict";

const SIZE_DELAY_MS = 250; // after the last keystroke, before asking for the size
const COUNT_DELAY_MS = 400; // counting may walk the whole site: ask less often
const AUDIENCE_FIELDS = /^(audience|tags|segment|filter)/;
const CHOICE_FIELDS = ["when", "ab_enabled"]; // show only the part of the form they choose

function debounce(wait, run) {
  let timer = null;
  return () => {
    clearTimeout(timer);
    timer = setTimeout(run, wait);
  };
}

function redrawPreviews(form) {
  for (const element of document.querySelectorAll("[data-field]")) {
    const input = form.elements.namedItem(element.dataset.field);
    const value = input ? input.value.trim() : "";
    element.textContent = value || element.dataset.fallback || "";
  }
  for (const element of document.querySelectorAll("[data-if]")) {
    const input = form.elements.namedItem(element.dataset.if);
    element.hidden = !(input && input.value.trim());
  }
}

function showChosenParts(form) {
  const audience = form.elements.namedItem("audience").value;
  for (const part of form.querySelectorAll("[data-audience]")) {
    part.hidden = part.dataset.audience !== audience;
  }
  const when = form.elements.namedItem("when").value;
  for (const part of form.querySelectorAll("[data-when]")) {
    part.hidden = part.dataset.when !== when;
  }
  const testing = form.elements.namedItem("ab_enabled").checked;
  for (const part of form.querySelectorAll("[data-ab]")) {
    part.hidden = !testing;
  }
}

async function ask(form, url) {
  const body = new URLSearchParams(new FormData(form));
  const response = await fetch(url, {
    method: "POST",
    body,
    credentials: "same-origin",
    headers: { "X-CSRF-Token": form.elements.namedItem("csrf_token").value },
  });
  return { ok: response.ok, data: await response.json() };
}

function number(n) {
  return n.toLocaleString("en-US");
}

async function updateSize(form) {
  const shown = document.getElementById("payload-size");
  const meter = document.getElementById("size-meter");
  try {
    const { data } = await ask(form, form.dataset.sizeUrl);
    const bytes = data.payload_bytes;
    const limit = number(data.limit_bytes);
    shown.classList.toggle("over", bytes !== null && bytes > data.limit_bytes);
    if (bytes === null) {
      shown.innerHTML = `<strong id="size-value">–</strong> of ${limit} bytes (shown once the content is valid)`;
    } else {
      const over = bytes > data.limit_bytes ? ": too large for one push message" : "";
      shown.innerHTML = `<strong id="size-value">${number(bytes)}</strong> of ${limit} bytes${over}`;
      meter.value = bytes;
    }
  } catch {
    shown.textContent = "The size could not be measured (is the gateway running?).";
  }
}

async function updateCount(form) {
  const shown = document.getElementById("audience-count");
  try {
    const { ok, data } = await ask(form, form.dataset.countUrl);
    if (ok) {
      const people = data.count === 1 ? "subscriber" : "subscribers";
      shown.innerHTML = `Reaches <strong id="count-value">${number(data.count)}</strong> ${people} now.`;
    } else {
      shown.textContent = data.error ? data.error.message : "The audience cannot be counted.";
    }
  } catch {
    shown.textContent = "The audience could not be counted (is the gateway running?).";
  }
}

function start() {
  const form = document.getElementById("compose-form");
  if (!form) return;
  const size = debounce(SIZE_DELAY_MS, () => updateSize(form));
  const count = debounce(COUNT_DELAY_MS, () => updateCount(form));
  const changed = (event) => {
    const name = event.target.name || "";
    if (AUDIENCE_FIELDS.test(name)) {
      showChosenParts(form);
      count();
    } else if (CHOICE_FIELDS.includes(name)) {
      showChosenParts(form);
    } else {
      redrawPreviews(form);
      size();
    }
  };
  form.addEventListener("input", changed);
  form.addEventListener("change", changed);
  showChosenParts(form);
  redrawPreviews(form);
}

document.addEventListener("DOMContentLoaded", start);
