/* pushgate snippet, version 0.1.0: Web Push subscriptions for a website, one script tag.
 *
 *   <script src="https://GATEWAY/static/pushgate.js" data-site="SITE_ID" async></script>
 *
 * Attributes: data-site (required), data-sw (the site's worker file, default /pushgate-sw.js),
 * data-sw-scope (default: the worker's folder), data-prompt="soft" (show the soft prompt),
 * data-prompt-delay (seconds, default 3), data-debug (log with a [pushgate] prefix).
 * The soft prompt shows one of the site's prompt variants (chosen by weight once per browser and
 * kept) and reports what happened to it (shown, accepted, dismissed, granted, denied).
 * API (window.pushgate): subscribe(opts?), unsubscribe(), state(), setTags(obj), setExternalId(id),
 * track(name, props?), showPrompt(), explain(). Calls made before this file loaded are queued:
 *   window.pushgate = window.pushgate || []; pushgate.push(["subscribe", {tags: {topic: "tech"}}]);
 * The full guide, the payload format and the error codes: docs/embedding.md.
 */
(() => {
  "use strict";

  const VERSION = "0.1.0";
  const DB_NAME = "pushgate";
  const DB_STORE = "config";
  const DEFAULT_SW = "/pushgate-sw.js";
  const DEFAULT_PROMPT_DELAY_SECONDS = 3;
  const DEFAULT_SNOOZE_DAYS = 7;
  const DAY_MS = 24 * 60 * 60 * 1000;
  const WORKER_ACTIVATION_TIMEOUT_MS = 10000;

  const script = document.currentScript || document.querySelector("script[data-site][src*='pushgate.js']");
  if (!script) return;
  const dataset = script.dataset;
  const siteId = dataset.site || "";
  const gateway = new URL("../", script.src).href.replace(/\/$/, "");
  const swUrl = dataset.sw || DEFAULT_SW;
  const swScope = dataset.swScope || undefined;
  const debug = dataset.debug !== undefined && dataset.debug !== "false";
  const storageKey = `pushgate:${siteId}`;

  function log(...args) {
    if (debug) console.log("[pushgate]", ...args);
  }

  class PushgateError extends Error {
    constructor(code, message, status) {
      super(message);
      this.name = "PushgateError";
      this.code = code;
      this.status = status || 0;
    }
  }

  // --- small persistence helpers (never throw: private modes may refuse storage) ---------------

  function loadLocal() {
    try {
      return JSON.parse(localStorage.getItem(storageKey) || "{}") || {};
    } catch (_) {
      return {};
    }
  }

  function saveLocal(changes) {
    const value = Object.assign(loadLocal(), changes);
    try {
      localStorage.setItem(storageKey, JSON.stringify(value));
    } catch (_) {
      // Storage refused: the gateway still has everything that matters.
    }
    return value;
  }

  function saveWorkerConfig(scope, config) {
    // The worker reads this on pushsubscriptionchange (it cannot know the gateway otherwise).
    return new Promise((resolve) => {
      try {
        const request = indexedDB.open(DB_NAME, 1);
        request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
        request.onerror = () => resolve(false);
        request.onsuccess = () => {
          const db = request.result;
          const tx = db.transaction(DB_STORE, "readwrite");
          tx.objectStore(DB_STORE).put(Object.assign({ gateway, site_id: siteId, debug }, config), scope);
          tx.oncomplete = () => { db.close(); resolve(true); };
          tx.onerror = () => { db.close(); resolve(false); };
        };
      } catch (_) {
        resolve(false);
      }
    });
  }

  // --- support and state -----------------------------------------------------------------------

  function isIos() {
    const ua = navigator.userAgent || "";
    return /iPad|iPhone|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  }

  function supported() {
    return Boolean(window.isSecureContext && "serviceWorker" in navigator &&
      "PushManager" in window && "Notification" in window);
  }

  function explain() {
    if (supported()) return "";
    if (isIos() && !navigator.standalone) {
      return "To get notifications on iPhone or iPad, open this site in Safari, tap the Share " +
        "button, choose \u201cAdd to Home Screen\u201d, then open the site from its home-screen icon " +
        "and subscribe there (iOS 16.4 or later).";
    }
    if (!window.isSecureContext) return "Notifications need a secure (https) connection to this site.";
    return "This browser cannot receive web push notifications. Try a current Firefox, Chrome, Edge or Safari.";
  }

  let registrationPromise = null;

  async function existingRegistration() {
    const url = new URL(swScope || swUrl, location.href).href;
    return (await navigator.serviceWorker.getRegistration(url)) || null;
  }

  async function currentSubscription() {
    const registration = await existingRegistration();
    return registration ? registration.pushManager.getSubscription() : null;
  }

  async function state() {
    try {
      if (!supported()) return "unsupported";
      if (Notification.permission === "denied") return "denied";
      if (Notification.permission === "default") return "default";
      return (await currentSubscription()) ? "subscribed" : "unsubscribed";
    } catch (error) {
      log("state failed", error);
      return "unsupported";
    }
  }

  async function announce() {
    const value = await state();
    document.documentElement.setAttribute("data-pushgate-state", value);
    // Buttons stay clickable: a click on an unsupported browser explains why (see onDocumentClick).
    if (value === "unsupported") {
      for (const element of document.querySelectorAll("[data-pushgate-subscribe]")) element.title = explain();
    }
    window.dispatchEvent(new CustomEvent("pushgate:state", { detail: { state: value } }));
    return value;
  }

  function fail(error) {
    const wrapped = error instanceof PushgateError
      ? error
      : new PushgateError("network_error", String((error && error.message) || error));
    log("error", wrapped.code, wrapped.message);
    window.dispatchEvent(new CustomEvent("pushgate:error", { detail: { code: wrapped.code, message: wrapped.message } }));
    return wrapped;
  }

  // --- the gateway -----------------------------------------------------------------------------

  async function request(method, url, body) {
    let response;
    try {
      response = await fetch(url, {
        method,
        mode: "cors",
        credentials: "omit",
        headers: body ? { "Content-Type": "application/json" } : {},
        body: body ? JSON.stringify(body) : undefined,
      });
    } catch (error) {
      throw new PushgateError("network_error", `Cannot reach the pushgate gateway: ${error.message}`);
    }
    if (response.status === 204) return null;
    const json = await response.json().catch(() => null);
    if (!response.ok) {
      const e = (json && json.error) || {};
      throw new PushgateError(e.code || "http_error", e.message || `HTTP ${response.status}`, response.status);
    }
    return json;
  }

  let configPromise = null;

  function loadConfig() {
    if (!configPromise) {
      configPromise = request("GET", `${gateway}/v1/sites/${encodeURIComponent(siteId)}/config`)
        .catch((error) => { configPromise = null; throw error; });
    }
    return configPromise;
  }

  // --- subscribing -----------------------------------------------------------------------------

  function base64UrlToBytes(value) {
    const base64 = value.replace(/-/g, "+").replace(/_/g, "/");
    const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  function sameKey(buffer, key) {
    if (!buffer) return false;
    const a = new Uint8Array(buffer);
    const b = base64UrlToBytes(key);
    return a.length === b.length && a.every((byte, i) => byte === b[i]);
  }

  function waitActive(registration) {
    if (registration.active) return Promise.resolve(registration);
    return new Promise((resolve, reject) => {
      const worker = registration.installing || registration.waiting;
      const timer = setTimeout(() => reject(new PushgateError(
        "service_worker_failed", `The service worker ${swUrl} did not activate.`)), WORKER_ACTIVATION_TIMEOUT_MS);
      worker.addEventListener("statechange", () => {
        if (worker.state === "activated") { clearTimeout(timer); resolve(registration); }
        if (worker.state === "redundant") {
          clearTimeout(timer);
          reject(new PushgateError("service_worker_failed", `The service worker ${swUrl} failed to install.`));
        }
      });
    });
  }

  async function refuseToReplace() {
    // Registering another script at a scope replaces the worker there: never do that to a
    // site's own worker. The site should import pushgate's worker into it and name it in data-sw.
    const script = new URL(swUrl, location.href);
    const scope = new URL(swScope || "./", script).href;
    const existing = await navigator.serviceWorker.getRegistration(scope);
    const worker = existing && existing.scope === scope && (existing.active || existing.waiting || existing.installing);
    if (worker && new URL(worker.scriptURL).pathname !== script.pathname) {
      throw new PushgateError("service_worker_conflict",
        `This site already runs the service worker ${worker.scriptURL} at ${scope}. Add ` +
        `importScripts("${gateway}/sw/pushgate-sw.js") to it and set data-sw to its path.`);
    }
  }

  async function registerOnce() {
    await refuseToReplace();
    let registration;
    try {
      registration = await navigator.serviceWorker.register(swUrl, swScope ? { scope: swScope } : undefined);
    } catch (error) {
      throw new PushgateError("service_worker_failed", `Cannot register ${swUrl}: ${error.message}`);
    }
    return waitActive(registration);
  }

  function register() {
    if (!registrationPromise) {
      registrationPromise = registerOnce().catch((error) => { registrationPromise = null; throw error; });
    }
    return registrationPromise;
  }

  function environment() {
    const info = { language: navigator.language || undefined };
    try {
      info.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (_) {
      // Left out: the gateway then delivers local-time sends in UTC.
    }
    return info;
  }

  async function pushSubscription(registration, config) {
    // Reuse the browser's subscription unless it was made with another VAPID key.
    const existing = await registration.pushManager.getSubscription();
    if (existing && sameKey(existing.options && existing.options.applicationServerKey, config.vapid_public_key)) {
      return { subscription: existing, oldEndpoint: null };
    }
    if (existing) {
      log("VAPID key changed, subscribing again");
      await existing.unsubscribe().catch(() => false);
    }
    try {
      const subscription = await registration.pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: base64UrlToBytes(config.vapid_public_key),
      });
      return { subscription, oldEndpoint: existing ? existing.endpoint : null };
    } catch (error) {
      throw new PushgateError("subscribe_failed", `The browser refused to subscribe: ${error.message}`);
    }
  }

  function tagsUnsent(local) {
    // Stored by an older snippet, without the flag: unsent only if never subscribed.
    return local.tags_unsent === undefined ? !local.id : local.tags_unsent;
  }

  async function sendSubscription(subscription, extra) {
    const config = await loadConfig();
    const local = loadLocal();
    const body = Object.assign({ subscription: subscription.toJSON() }, environment());
    // Tags go only when set here since the gateway last answered: a post with tags replaces the
    // stored ones, and a visit must not undo tags the site's back end set with PATCH.
    if (local.tags && tagsUnsent(local)) body.tags = local.tags;
    if (local.external_id) body.external_id = local.external_id;
    Object.assign(body, extra);
    const saved = await request("POST", config.subscriptions_url, body);
    saveLocal({ id: saved.id, endpoint: subscription.endpoint, tags: saved.tags || {}, tags_unsent: false });
    return saved;
  }

  async function askPermission() {
    if (Notification.permission !== "default") return Notification.permission;
    // Called first thing in subscribe(), while the click's user activation is still fresh.
    return new Promise((resolve) => {
      const result = Notification.requestPermission(resolve);
      if (result && result.then) result.then(resolve, () => resolve("default"));
    });
  }

  async function subscribe(opts) {
    const options = opts || {};
    if (!supported()) throw fail(new PushgateError("unsupported", explain()));
    if (Notification.permission === "default" && navigator.userActivation && !navigator.userActivation.isActive) {
      // The browser's prompt is only ever opened from a click or a key press, never on page load.
      throw fail(new PushgateError("needs_user_gesture", "Call pushgate.subscribe() from a click handler."));
    }
    const asked = Notification.permission === "default";
    const permission = await askPermission();
    // The browser's answer counts for the prompt variant this page view showed, if any.
    if (asked && (permission === "granted" || permission === "denied")) reportPrompt(permission);
    await announce();
    if (permission === "denied") {
      throw fail(new PushgateError("permission_denied", "Notifications are blocked for this site in the browser's settings."));
    }
    if (permission !== "granted") {
      throw fail(new PushgateError("permission_dismissed", "The notification permission was not granted."));
    }
    try {
      if (options.tags) saveLocal({ tags: cleanTags(options.tags), tags_unsent: true });
      if (options.external_id !== undefined) saveLocal({ external_id: options.external_id });
      const config = await loadConfig();
      const registration = await register();
      const { subscription, oldEndpoint } = await pushSubscription(registration, config);
      const saved = await sendSubscription(subscription, oldEndpoint ? { old_endpoint: oldEndpoint } : {});
      await saveWorkerConfig(registration.scope, workerConfig(config, subscription.endpoint));
      hidePrompt();
      await announce();
      return saved;
    } catch (error) {
      throw fail(error);
    }
  }

  function workerConfig(config, endpoint) {
    return {
      vapid_public_key: config.vapid_public_key,
      subscriptions_url: config.subscriptions_url,
      events_url: config.events_url,
      endpoint,
    };
  }

  async function unsubscribe() {
    try {
      const subscription = await currentSubscription();
      if (!subscription) return false;
      const config = await loadConfig();
      await request("DELETE", config.subscriptions_url, { endpoint: subscription.endpoint });
      await subscription.unsubscribe();
      saveLocal({ id: null, endpoint: null });
      await announce();
      return true;
    } catch (error) {
      throw fail(error);
    }
  }

  function cleanTags(tags) {
    // Values keep their type: strings, finite numbers, booleans. null, undefined and "" drop the tag.
    const result = {};
    for (const [key, value] of Object.entries(tags || {})) {
      if (value === null || value === undefined || value === "") continue;
      const kind = typeof value;
      if (kind !== "string" && kind !== "boolean" && !(kind === "number" && Number.isFinite(value))) {
        throw new PushgateError("invalid_request", `tag ${JSON.stringify(key)} must be a string, a finite number or a boolean`, 400);
      }
      result[key] = value;
    }
    return result;
  }

  async function updateIfSubscribed(changes) {
    try {
      const subscription = await currentSubscription();
      if (!subscription) return null;
      return await sendSubscription(subscription, changes);
    } catch (error) {
      throw fail(error);
    }
  }

  async function setTags(tags) {
    // Merges into the tags the gateway last answered with (or those set before subscribing);
    // a key set to null or "" removes that tag. The merged object replaces the stored tags.
    const before = loadLocal();
    const merged = cleanTags(Object.assign({}, before.tags || {}, tags || {}));
    saveLocal({ tags: merged, tags_unsent: true });
    try {
      return await updateIfSubscribed({ tags: merged });
    } catch (error) {
      // Refused (over 100 tags, a value too long): forget the change, or every visit resends it.
      if (error.status === 400) saveLocal({ tags: before.tags, tags_unsent: before.tags_unsent });
      throw error;
    }
  }

  async function track(name, props) {
    // An event of this browser's subscriber (add to cart, checkout...): the gateway's triggers
    // act on it. Only a subscribed browser has someone to tie it to.
    const subscription = supported() ? await currentSubscription() : null;
    if (!subscription) {
      throw fail(new PushgateError("not_subscribed", "pushgate.track() needs a subscribed browser: call subscribe() first."));
    }
    const config = await loadConfig();
    const url = config.subscriptions_url.replace(/\/subscriptions$/, "/track");
    try {
      return await request("POST", url, { endpoint: subscription.endpoint, name: String(name), props: props || {} });
    } catch (error) {
      throw fail(error);
    }
  }

  async function setExternalId(id) {
    saveLocal({ external_id: id === null || id === undefined ? null : String(id) });
    return updateIfSubscribed({});
  }

  async function onVisit() {
    // Refresh last_seen once per browser session, and move to a new VAPID key if it changed.
    if (!supported() || Notification.permission !== "granted") return;
    const subscription = await currentSubscription();
    if (!subscription) return;
    let visited = false;
    try {
      visited = sessionStorage.getItem(`${storageKey}:visited`) === "1";
    } catch (_) {
      // No session storage: refresh on every page view.
    }
    const config = await loadConfig();
    const keyChanged = !sameKey(subscription.options && subscription.options.applicationServerKey, config.vapid_public_key);
    if (visited && !keyChanged) return;
    const registration = await register();
    const { subscription: current, oldEndpoint } = await pushSubscription(registration, config);
    await sendSubscription(current, oldEndpoint ? { old_endpoint: oldEndpoint } : {});
    await saveWorkerConfig(registration.scope, workerConfig(config, current.endpoint));
    try {
      sessionStorage.setItem(`${storageKey}:visited`, "1");
    } catch (_) {
      // See above.
    }
    log("visit recorded");
  }

  // --- the soft prompt -------------------------------------------------------------------------

  const PROMPT_CSS = `
    :host { all: initial; }
    .box { position: fixed; z-index: 2147483000; left: 50%; top: 16px; transform: translateX(-50%);
      width: min(420px, calc(100vw - 32px)); box-sizing: border-box; padding: 16px 18px;
      background: #fff; color: #1d1d1f; border-radius: 12px; font: 15px/1.45 system-ui, sans-serif;
      box-shadow: 0 10px 30px rgba(0,0,0,.18), 0 0 0 1px rgba(0,0,0,.06); }
    h2 { font-size: 16px; margin: 0 0 6px; }
    p { margin: 0 0 14px; }
    .row { display: flex; gap: 8px; justify-content: flex-end; }
    button { font: inherit; padding: 8px 14px; border-radius: 8px; cursor: pointer; border: 1px solid #c7c7cc; background: #fff; color: #1d1d1f; }
    button.primary { background: #0a58ca; border-color: #0a58ca; color: #fff; }
    button:focus-visible { outline: 3px solid #ffbf47; outline-offset: 2px; }
    @media (prefers-color-scheme: dark) { .box { background: #1f1f22; color: #f2f2f7; }
      button { background: #2c2c30; color: #f2f2f7; border-color: #48484a; } }
    @media (prefers-reduced-motion: no-preference) { .box { animation: in .2s ease-out; }
      @keyframes in { from { opacity: 0; transform: translate(-50%, -8px); } } }`;

  let promptHost = null;
  let shownVariant = null; // {id, url}: the variant the soft prompt showed in this page view
  const reported = new Set(); // prompt events already reported in this page view

  function chooseVariant(config) {
    // Each browser sticks to one variant, chosen by weight the first time; if the site removed
    // it, the browser chooses again. A gateway without variants: the single prompt, "default".
    const variants = Array.isArray(config.prompt_variants) ? config.prompt_variants : [];
    if (!variants.length) return Object.assign({ id: "default" }, config.prompt || {});
    const kept = variants.find((variant) => variant.id === loadLocal().prompt_variant);
    if (kept) return kept;
    const weightOf = (variant) => Math.max(0, Number(variant.weight) || 0);
    let pick = Math.random() * variants.reduce((sum, variant) => sum + weightOf(variant), 0);
    let chosen = variants[variants.length - 1];
    for (const variant of variants) {
      pick -= weightOf(variant);
      if (pick < 0) { chosen = variant; break; }
    }
    saveLocal({ prompt_variant: chosen.id });
    return chosen;
  }

  function reportPrompt(event) {
    // At most once per event and page view; never throws, never waits (keepalive: a click
    // that leaves the page still reports).
    if (!shownVariant || !shownVariant.url || reported.has(event)) return;
    reported.add(event);
    fetch(shownVariant.url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      keepalive: true,
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ event, variant: shownVariant.id }),
    }).then((response) => {
      if (!response.ok) log("prompt event refused", event, response.status);
    }, (error) => log("prompt event failed", event, error));
  }

  function hidePrompt() {
    if (promptHost) promptHost.remove();
    promptHost = null;
  }

  function snoozed() {
    return (loadLocal().snoozed_until || 0) > Date.now();
  }

  function buildPrompt(heading, text, buttons) {
    hidePrompt();
    promptHost = document.createElement("div");
    promptHost.id = "pushgate-prompt";
    const root = promptHost.attachShadow({ mode: "open" });
    root.innerHTML = `<style>${PROMPT_CSS}</style><div class="box" role="dialog" aria-modal="false"
      aria-labelledby="pg-title" aria-describedby="pg-text"><h2 id="pg-title"></h2><p id="pg-text"></p><div class="row"></div></div>`;
    root.getElementById("pg-title").textContent = heading;
    root.getElementById("pg-text").textContent = text;
    const row = root.querySelector(".row");
    for (const { label, primary, onClick } of buttons) {
      const button = document.createElement("button");
      button.type = "button";
      button.textContent = label;
      if (primary) button.className = "primary";
      button.addEventListener("click", onClick);
      row.appendChild(button);
    }
    root.querySelector(".box").addEventListener("keydown", (event) => {
      if (event.key === "Escape") buttons[buttons.length - 1].onClick();
    });
    // First in the tab order, so keyboard users meet it before the page; focus is not stolen.
    document.body.prepend(promptHost);
    return promptHost;
  }

  function showExplanation() {
    buildPrompt("Notifications are not available here", explain(), [
      { label: "OK", primary: true, onClick: hidePrompt },
    ]);
  }

  async function showPrompt(force) {
    try {
      const current = await state();
      if (current === "unsupported") return force ? showExplanation() : undefined;
      if (current !== "default" && !(force && current === "unsubscribed")) return;
      if (!force && snoozed()) return;
      const config = await loadConfig();
      const prompt = config.prompt || {};
      const variant = chooseVariant(config);
      const snoozeDays = Number(prompt.snooze_days) || DEFAULT_SNOOZE_DAYS;
      buildPrompt(document.title || location.hostname, variant.text || "Get notified about new posts?", [
        {
          label: variant.accept || "Allow",
          primary: true,
          onClick: () => { reportPrompt("accepted"); subscribe().catch(() => undefined); },
        },
        {
          label: variant.dismiss || "Not now",
          onClick: () => {
            reportPrompt("dismissed");
            saveLocal({ snoozed_until: Date.now() + snoozeDays * DAY_MS });
            hidePrompt();
          },
        },
      ]);
      promptHost.dataset.variant = variant.id;
      shownVariant = { id: variant.id, url: config.prompt_events_url };
      reportPrompt("shown");
    } catch (error) {
      fail(error);
    }
  }

  // --- wiring ----------------------------------------------------------------------------------

  function onDocumentClick(event) {
    const target = event.target instanceof Element ? event.target : null;
    const subscribeButton = target && target.closest("[data-pushgate-subscribe]");
    if (subscribeButton) {
      event.preventDefault();
      if (!supported()) return showExplanation();
      let tags;
      try {
        tags = subscribeButton.dataset.pushgateTags ? JSON.parse(subscribeButton.dataset.pushgateTags) : undefined;
      } catch (_) {
        log("data-pushgate-tags is not JSON");
      }
      subscribe(tags ? { tags } : undefined).catch(() => undefined);
      return;
    }
    if (target && target.closest("[data-pushgate-unsubscribe]")) {
      event.preventDefault();
      unsubscribe().catch(() => undefined);
    }
  }

  function safe(fn) {
    // Public methods return promises that reject with a PushgateError; they never throw synchronously.
    return (...args) => {
      try {
        return Promise.resolve(fn(...args));
      } catch (error) {
        return Promise.reject(fail(error));
      }
    };
  }

  const api = {
    version: VERSION,
    siteId,
    gateway,
    subscribe: safe(subscribe),
    unsubscribe: safe(unsubscribe),
    state: safe(state),
    setTags: safe(setTags),
    setExternalId: safe(setExternalId),
    track: safe(track),
    showPrompt: safe(() => showPrompt(true)),
    explain,
    PushgateError,
    push(item) {
      // Queued calls: ["method", ...args] or a function receiving the API.
      try {
        if (typeof item === "function") return item(api);
        if (Array.isArray(item) && typeof api[item[0]] === "function" && item[0] !== "push") {
          const result = api[item[0]](...item.slice(1));
          if (result && result.catch) result.catch(() => undefined);
          return result;
        }
        log("ignored queued call", item);
      } catch (error) {
        fail(error);
      }
      return undefined;
    },
  };

  function start() {
    const queued = Array.isArray(window.pushgate) ? window.pushgate.slice() : [];
    window.pushgate = api;
    document.addEventListener("click", onDocumentClick);
    announce().catch(() => undefined);
    onVisit().catch((error) => log("visit refresh failed", error)); // background: no error event
    for (const item of queued) api.push(item);
    if (dataset.prompt === "soft") {
      const delay = dataset.promptDelay === undefined ? DEFAULT_PROMPT_DELAY_SECONDS : Number(dataset.promptDelay);
      setTimeout(() => showPrompt(false), Math.max(0, delay || 0) * 1000);
    }
    log("ready", VERSION, gateway, siteId);
  }

  if (!siteId) {
    console.warn("[pushgate] the script tag needs data-site=\"SITE_ID\"");
    return;
  }
  if (document.body) start();
  else document.addEventListener("DOMContentLoaded", start, { once: true });
})();
