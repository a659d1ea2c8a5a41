/* pushgate service worker, version 0.1.0.
 *
 * Shows pushgate's Web Push messages, reports delivered / clicked / dismissed events, and keeps
 * the subscription alive across `pushsubscriptionchange`. Use it one of two ways:
 *   - as the whole worker: the site hosts a one-line /pushgate-sw.js containing
 *       importScripts("https://GATEWAY/sw/pushgate-sw.js");
 *   - inside a worker the site already has: add the same importScripts line at its top. This file
 *     adds only push, notificationclick, notificationclose and pushsubscriptionchange listeners;
 *     it never touches fetch, install, activate or caches.
 *
 * Payload format: docs/embedding.md, "The push payload". It is pushgate's JSON, which is also
 * Declarative Web Push ({"web_push": 8030, "notification": {...}}); a plain {"title", "body", ...}
 * object, a text payload and an empty push are shown too (never the browser's generic
 * "this site has been updated in the background").
 *
 * Configuration: the snippet (static/pushgate.js) stores the gateway's URLs for this registration
 * in IndexedDB (database "pushgate", store "config", key = registration scope); the worker reads
 * it only for `pushsubscriptionchange`. Debug logging: set `self.PUSHGATE_DEBUG = true` before the
 * importScripts line, or load the snippet with data-debug.
 */
(() => {
  "use strict";

  const VERSION = "0.1.0";
  const DB_NAME = "pushgate";
  const DB_STORE = "config";
  const MAX_TEXT_BODY_CHARS = 500;

  let debugFromConfig = false;

  function log(...args) {
    if (self.PUSHGATE_DEBUG || debugFromConfig) console.log("[pushgate]", ...args);
  }

  // --- configuration written by the snippet -------------------------------------------------

  function openDb() {
    return new Promise((resolve, reject) => {
      const request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = () => request.result.createObjectStore(DB_STORE);
      request.onsuccess = () => resolve(request.result);
      request.onerror = () => reject(request.error);
    });
  }

  async function readConfig() {
    try {
      const db = await openDb();
      const config = await new Promise((resolve, reject) => {
        const request = db.transaction(DB_STORE).objectStore(DB_STORE).get(self.registration.scope);
        request.onsuccess = () => resolve(request.result || null);
        request.onerror = () => reject(request.error);
      });
      db.close();
      debugFromConfig = Boolean(config && config.debug);
      return config;
    } catch (error) {
      log("cannot read config", error);
      return null;
    }
  }

  async function writeConfig(config) {
    const db = await openDb();
    await new Promise((resolve, reject) => {
      const tx = db.transaction(DB_STORE, "readwrite");
      tx.objectStore(DB_STORE).put(config, self.registration.scope);
      tx.oncomplete = resolve;
      tx.onerror = () => reject(tx.error);
    });
    db.close();
  }

  // --- payload -> notification ---------------------------------------------------------------

  function fallbackTitle() {
    return self.location.hostname || "New notification";
  }

  function parsePayload(data) {
    // Returns {notification, pushgate}, whatever the payload looked like.
    if (!data) return { notification: { title: fallbackTitle() }, pushgate: null };
    let text = "";
    try {
      text = data.text();
      const json = JSON.parse(text);
      if (json && typeof json === "object" && !Array.isArray(json)) {
        const notification = json.notification && typeof json.notification === "object"
          ? json.notification
          : json; // plain {"title", "body", ...}
        return { notification, pushgate: json.pushgate || null };
      }
    } catch (_) {
      // Not JSON: show the text itself.
    }
    const body = String(text || "").slice(0, MAX_TEXT_BODY_CHARS);
    return { notification: { title: fallbackTitle(), body }, pushgate: null };
  }

  function absoluteUrl(url) {
    if (typeof url !== "string" || !url) return null;
    try {
      return new URL(url, self.registration.scope).href;
    } catch (_) {
      return null;
    }
  }

  function pick(object, ...names) {
    for (const name of names) if (object[name] !== undefined && object[name] !== null) return object[name];
    return undefined;
  }

  function buildActions(actions) {
    if (!Array.isArray(actions)) return { list: [], urls: {} };
    const list = [];
    const urls = {};
    for (const item of actions) {
      if (!item || typeof item.action !== "string" || typeof item.title !== "string") continue;
      const entry = { action: item.action, title: item.title };
      if (typeof item.icon === "string") entry.icon = item.icon;
      list.push(entry);
      const url = absoluteUrl(pick(item, "navigate", "url"));
      if (url) urls[item.action] = url;
    }
    return { list, urls };
  }

  function buildOptions(n, pushgate) {
    const actions = buildActions(n.actions);
    const options = {
      body: typeof n.body === "string" ? n.body : "",
      data: {
        pushgate: pushgate && typeof pushgate === "object" ? pushgate : null,
        url: absoluteUrl(pick(n, "navigate", "url")),
        action_urls: actions.urls,
        data: n.data === undefined ? null : n.data,
      },
    };
    for (const [key, value] of [
      ["icon", n.icon], ["image", n.image], ["badge", n.badge], ["tag", n.tag],
      ["lang", n.lang], ["dir", n.dir],
    ]) {
      if (typeof value === "string" && value) options[key] = value;
    }
    const timestamp = pick(n, "timestamp");
    if (typeof timestamp === "number") options.timestamp = timestamp;
    const renotify = pick(n, "renotify");
    // Browsers throw a TypeError for renotify without a tag.
    if (renotify === true && options.tag) options.renotify = true;
    if (pick(n, "require_interaction", "requireInteraction") === true) options.requireInteraction = true;
    if (pick(n, "silent") === true) options.silent = true;
    if (actions.list.length) options.actions = actions.list;
    return options;
  }

  async function show(title, options) {
    try {
      await self.registration.showNotification(title, options);
    } catch (error) {
      // An option this browser refuses (an odd icon URL, too many actions...): show the text only.
      log("showNotification failed, showing plain text", error);
      await self.registration.showNotification(title, { body: options.body, data: options.data });
    }
  }

  // --- events back to the gateway ------------------------------------------------------------

  async function report(pushgate, type, action) {
    // Never throws, never blocks a notification: always called after showNotification.
    if (!pushgate || typeof pushgate.token !== "string" || typeof pushgate.events_url !== "string") return;
    const body = { token: pushgate.token, type };
    if (action) body.action = action;
    try {
      const response = await fetch(pushgate.events_url, {
        method: "POST",
        mode: "cors",
        credentials: "omit",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      log("reported", type, response.status);
    } catch (error) {
      log("could not report", type, error);
    }
  }

  // --- handlers --------------------------------------------------------------------------------

  async function handlePush(event) {
    const { notification, pushgate } = parsePayload(event.data);
    const title = typeof notification.title === "string" && notification.title
      ? notification.title
      : fallbackTitle();
    await show(title, buildOptions(notification, pushgate));
    log("shown", title);
    await report(pushgate, "delivered");
  }

  async function focusOrOpen(url) {
    const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
    const open = windows.find((client) => client.url === url);
    if (open && "focus" in open) {
      try {
        return await open.focus();
      } catch (error) {
        log("focus failed, opening a new window", error);
      }
    }
    return self.clients.openWindow(url);
  }

  // Firefox also fires notificationclose for a notification the user clicked, which counted
  // every click as dismissed too; a clicked notification's token is remembered until its close.
  const clickedTokens = new Set();

  async function handleNotificationClick(event) {
    const notification = event.notification;
    const data = notification.data || {};
    if (data.pushgate && typeof data.pushgate.token === "string") clickedTokens.add(data.pushgate.token);
    notification.close();
    const actionUrls = data.action_urls || {};
    const url = (event.action && actionUrls[event.action]) || data.url || self.registration.scope;
    // Open first (it needs the click's user activation), report second.
    try {
      await focusOrOpen(url);
    } catch (error) {
      log("could not open", url, error);
    }
    await report(data.pushgate, "clicked", event.action || undefined);
  }

  async function handleNotificationClose(event) {
    const data = event.notification.data || {};
    if (data.pushgate && clickedTokens.delete(data.pushgate.token)) return; // clicked, not dismissed
    await report(data.pushgate, "dismissed");
  }

  function subscriptionKey(subscription, config) {
    const key = subscription && subscription.options && subscription.options.applicationServerKey;
    return key || (config && config.vapid_public_key) || null;
  }

  async function handleSubscriptionChange(event) {
    const config = await readConfig();
    const old = event.oldSubscription || null;
    let fresh = event.newSubscription || null;
    if (!fresh) {
      const key = subscriptionKey(old, config);
      if (!key) return log("pushsubscriptionchange: no VAPID key known, cannot re-subscribe");
      fresh = await self.registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    if (!config || !config.subscriptions_url) return log("pushsubscriptionchange: no gateway config");
    const body = { subscription: fresh.toJSON(), language: self.navigator.language };
    try {
      body.timezone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    } catch (_) {
      // No Intl time zone: the gateway keeps the one it has.
    }
    // Some browsers fire the event without oldSubscription: the snippet saved the last endpoint.
    const oldEndpoint = (old && old.endpoint) || (config && config.endpoint) || null;
    if (oldEndpoint && oldEndpoint !== fresh.endpoint) body.old_endpoint = oldEndpoint;
    const response = await fetch(config.subscriptions_url, {
      method: "POST",
      mode: "cors",
      credentials: "omit",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    log("pushsubscriptionchange: gateway answered", response.status);
    if (response.ok) await writeConfig(Object.assign({}, config, { endpoint: fresh.endpoint }));
  }

  function guarded(name, handler) {
    return (event) => {
      event.waitUntil(handler(event).catch((error) => log(name, "failed", error)));
    };
  }

  // --- listeners -------------------------------------------------------------------------------

  self.addEventListener("push", guarded("push", handlePush));
  self.addEventListener("notificationclick", guarded("notificationclick", handleNotificationClick));
  self.addEventListener("notificationclose", guarded("notificationclose", handleNotificationClose));
  self.addEventListener("pushsubscriptionchange", guarded("pushsubscriptionchange", handleSubscriptionChange));

  // For sites that track subscriptions themselves, and for tests: the handler behind the listener.
  self.pushgateWorker = { version: VERSION, handleSubscriptionChange };
  readConfig(); // sets the debug flag early; failures are logged, not thrown
})();
