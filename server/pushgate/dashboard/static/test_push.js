// pushgate dashboard: "Subscribe this browser" on a site's overview. Registers the shipped
// service worker under a scope of its own per site (so one browser can be subscribed to several
// sites with their own VAPID keys), subscribes with the site's key and hands the subscription to
// the dashboard, which stores it as this operator's own browser.
"use strict";

function keyBytes(base64url) {
  const base64 = base64url.replace(/-/g, "+").replace(/_/g, "/");
  const raw = atob(base64 + "=".repeat((4 - (base64.length % 4)) % 4));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// The worker's scope is not this page's, so navigator.serviceWorker.ready would never resolve:
// wait for this registration's own worker instead (subscribe needs it active).
function activated(registration) {
  if (registration.active) return Promise.resolve();
  const worker = registration.installing || registration.waiting;
  if (worker.state === "activated") return Promise.resolve();
  return new Promise((resolve, reject) => {
    worker.addEventListener("statechange", () => {
      if (worker.state === "activated") resolve();
      if (worker.state === "redundant") reject(new Error("the service worker did not start"));
    });
  });
}

async function subscribeThisBrowser(button, status) {
  const site = button.dataset.site;
  status.textContent = "Subscribing…";
  try {
    if ((await Notification.requestPermission()) !== "granted") {
      status.textContent = "Notifications are blocked for this dashboard: allow them in the browser's site settings, then try again.";
      return;
    }
    const registration = await navigator.serviceWorker.register("/sw/pushgate-sw.js", {
      scope: `/sw/dashboard-test/${site}/`,
    });
    await activated(registration);
    const key = keyBytes(button.dataset.vapidKey);
    let subscription = await registration.pushManager.getSubscription();
    if (!subscription) {
      subscription = await registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: key });
    }
    const answer = await fetch(`/dashboard/sites/${site}/test-subscription`, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": button.dataset.csrf },
      body: JSON.stringify({ subscription: subscription.toJSON() }),
    });
    const result = await answer.json();
    if (!answer.ok) {
      status.textContent = `Not subscribed: ${result.message}`;
      return;
    }
    document.getElementById("my-browsers").textContent = String(result.browsers);
    status.textContent = "This browser is subscribed. Press Send a test to me.";
  } catch (error) {
    status.textContent = `Not subscribed: ${error.message}`;
  }
}

function showSubscribeButton() {
  const button = document.getElementById("subscribe-browser");
  const status = document.getElementById("subscribe-status");
  if (!button || !status || !("serviceWorker" in navigator) || !("PushManager" in window)) return;
  button.hidden = false;
  status.textContent = "";
  button.addEventListener("click", () => subscribeThisBrowser(button, status));
}

document.addEventListener("DOMContentLoaded", showSubscribeButton);
