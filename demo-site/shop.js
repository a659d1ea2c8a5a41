// The Relay Shop's cart: every change is a tracked event (pushgate.track), which the gateway's
// cart-abandonment trigger acts on: "cart_add" starts (or restarts) a reminder for this cart,
// "checkout" cancels it. The cart's id groups the events (the trigger's group_by).
window.pushgate = window.pushgate || [];

(() => {
  "use strict";
  const CART_KEY = "relay:cart";
  const PRICE = 12.5;

  function load() {
    try {
      return JSON.parse(localStorage.getItem(CART_KEY) || "null") || { id: newId(), items: 0 };
    } catch (_) {
      return { id: newId(), items: 0 };
    }
  }

  function save(cart) {
    try { localStorage.setItem(CART_KEY, JSON.stringify(cart)); } catch (_) { /* private mode */ }
  }

  function newId() {
    return `cart-${Math.random().toString(36).slice(2, 10)}`;
  }

  function show(cart, text) {
    document.getElementById("cart-status").textContent = text
      || (cart.items ? `${cart.items} in your cart (£${(cart.items * PRICE).toFixed(2)}).` : "Your cart is empty.");
    document.getElementById("checkout").disabled = cart.items === 0;
  }

  async function track(name, props) {
    try {
      await window.pushgate.track(name, props);
    } catch (error) {
      // Not subscribed: the shop works, there is just nobody to remind.
      if (error.code !== "not_subscribed") console.warn("[shop]", error.code, error.message);
    }
  }

  function start() {
    let cart = load();
    show(cart);
    document.getElementById("add-to-cart").addEventListener("click", async () => {
      cart = { id: cart.id, items: cart.items + 1 };
      save(cart);
      show(cart);
      await track("cart_add", { cart_id: cart.id, items: cart.items, total: cart.items * PRICE });
      document.body.dataset.cart = "tracked";
    });
    document.getElementById("checkout").addEventListener("click", async () => {
      await track("checkout", { cart_id: cart.id, total: cart.items * PRICE });
      cart = { id: newId(), items: 0 };
      save(cart);
      show(cart, "Thank you! Your order is on its way.");
      document.body.dataset.cart = "checked-out";
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start, { once: true });
  else start();
})();
